"""`ovtool sweep RECIPE`: trials of a recipe over the axes of its `sweep:` section, a Pareto report, a winner.

`ovtool run` of a recipe with a `sweep:` section comes here too (run_sweep_command).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import PERFORMANCE, RECIPE, RECIPE_OPTION, SHARED, Flag

EXECUTORS = ("local", "ray")
_SHARED = tuple(f for f in SHARED if f.name not in ("overwrite",))  # a sweep OUT is resumed, never replaced

FLAGS = (
    RECIPE,
    RECIPE_OPTION,
    *_SHARED,
    Flag("--jobs", "sweep.jobs", type=int, panel=PERFORMANCE,
         help="local executor: trials at once (the cores are split between them)."),
    Flag("--executor", "sweep.executor", choices=EXECUTORS, panel=PERFORMANCE,
         help="Where trials run: local processes, or Ray tasks (RAY_ADDRESS, else a local Ray)."),
)  # fmt: skip

EXAMPLES = examples("""
    # list the trials and which are invalid and why; run nothing
    sweep recipes/minilm-bbc-int8-sweep.yaml --dry-run
    # the SmolLM2 INT4 sweep, two trials at a time
    sweep recipes/smollm2-int4-sweep.yaml --jobs 2
    # the same sweep into another OUT (a re-run into the same OUT resumes)
    sweep recipes/smollm2-int4-sweep.yaml -o runs/int4-sweep-2
""")

DETAILS = (
    "Each trial is a normal `ovtool run` into OUT/trials/<id>/ (cached stages are reused). OUT gets "
    "sweep.json, report.md/html (trial table, Pareto front, plots), best.yaml and model → the winner's model. "
    "Exit 3 when no trial meets the recipe's gates; a re-run of the same command resumes."
)


def _body(call: Call) -> None:
    v = call.values
    run_sweep_command(call.recipe(), sets=v["sets"], flags=call.recipe_flags(), dry_run=v["dry_run"],
                      wait=v["wait"], json_out=v["json_out"], verbose=v["verbose"], quiet=v["quiet"])  # fmt: skip


def run_sweep_command(recipe: Path | None, *, sets: list[str] | None, flags: dict[str, Any], dry_run: bool,
                      wait: bool, json_out: bool, verbose: int, quiet: bool) -> None:  # fmt: skip
    """Load the recipe, list (dry run) or run the sweep, print the result."""
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.recipe.loader import load_recipe
    from ovtool.sweep.report import flow
    from ovtool.sweep.runner import SweepOptions, plan, refuse_invalid, run_sweep

    console.set_verbosity(verbose, quiet)
    if recipe is None:
        raise UserError("sweep: give the recipe (ovtool sweep RECIPE)")
    loaded = load_recipe(recipe, sets or [], flags)
    options = SweepOptions(dry_run=dry_run, wait=wait)
    if dry_run:
        trials = plan(loaded, options)
        for trial in trials:
            values = " ".join(f"{k}={flow(v, exact=True)}" for k, v in trial.values.items())  # as --set reads it
            console.result(f"{trial.id}\t{values}\t{'invalid: ' + trial.invalid if trial.invalid else 'valid'}")
        refuse_invalid(trials)
        console.info(f"dry run: {len(trials)} trials, all valid; nothing was done")
        return
    result = run_sweep(loaded, options)
    if json_out:
        console.result_json(result.as_dict())
    else:
        console.result(f"best: {result.best}: {result.why}")
    console.info(f"output: {loaded.recipe.output}")


sweep = command("sweep", FLAGS, examples=EXAMPLES, body=_body, details=DETAILS)
