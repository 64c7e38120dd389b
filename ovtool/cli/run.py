"""`ovtool run RECIPE`: every stage section of the recipe, in order, into OUT/<stage>/."""

from __future__ import annotations

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import COMMON, STAGE, Flag

# The stages in run order (the schema's STAGE_ORDER; a test keeps them equal: no pydantic import here).
STAGE_NAMES = ("dataset", "convert", "prune", "distill", "quantize", "benchmark", "generate")

FLAGS = (
    *STAGE,
    Flag("--from", param="from_stage", choices=STAGE_NAMES, panel=COMMON, metavar="STAGE",
         help="Recompute STAGE and every stage after it, ignoring their stage-cache entries (earlier stages "
              "are still reused). Without it a re-run resumes by itself: finished stages come from the cache."),
)  # fmt: skip

EXAMPLES = examples("""
    # convert → INT4 → perplexity gate → an answer (`make demo`)
    run recipes/smollm2-int4-quickstart.yaml
    # a recipe with --set and -o
    run recipes/dataset-bbc-split.yaml --set seed=1 -o runs/bbc-split-seed1
    # reproduce a run from its OUT/recipe.yaml
    run runs/smollm2-int4-quickstart/recipe.yaml -o runs/again
    # quantize again (and everything after it), reusing the cached conversion
    run recipes/smollm2-int4-quickstart.yaml --from quantize -o runs/requantized
""")


def _body(call: Call) -> None:
    from ovtool.errors import UserError
    from ovtool.recipe.loader import load_recipe

    recipe = call.recipe()
    if recipe is None:
        raise UserError("run: give the recipe (ovtool run RECIPE)")
    loaded = load_recipe(recipe, call["sets"] or [], call.recipe_flags())
    from ovtool.recipe.sections.sweep import SweepSection

    if isinstance(loaded.recipe.sweep, SweepSection):  # a recipe with a sweep: section runs the sweep
        from ovtool.cli.sweep import run_sweep_command

        v = call.values
        run_sweep_command(recipe, sets=v["sets"], flags=call.recipe_flags(), dry_run=v["dry_run"], wait=v["wait"],
                          json_out=v["json_out"], verbose=v["verbose"], quiet=v["quiet"])  # fmt: skip
        return
    stages = loaded.recipe.stages()
    if not stages:
        raise UserError(f"{recipe}: no stage sections (convert:, quantize:, …) to run")
    call.run(stages=stages, from_stage=call["from_stage"])


run = command("run", FLAGS, examples=EXAMPLES, body=_body)
