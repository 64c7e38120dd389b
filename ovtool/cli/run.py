"""`ovtool run RECIPE`: every stage section of the recipe, in order, into OUT/<stage>/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovtool.cli.common import (
    DryRunOpt,
    JsonOpt,
    ModelOpt,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    SetOpt,
    VerboseOpt,
    WaitOpt,
    guarded,
    run_stage_command,
)  # fmt: skip


@guarded
def run(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML with one or more stage sections.")],
    model: ModelOpt = None,
    output: OutputOpt = None,
    sets: SetOpt = None,
    overwrite: OverwriteOpt = False,
    wait: WaitOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Run every stage section of RECIPE (dataset → convert → prune → distill → quantize → benchmark → generate)."""
    from ovtool.errors import UserError
    from ovtool.recipe.loader import load_recipe

    stages = load_recipe(recipe, sets or [], {"model": model}).recipe.stages()
    if not stages:
        raise UserError(f"{recipe}: no stage sections (convert:, quantize:, …) to run")
    run_stage_command(
        "run", recipe=recipe, model=model, output=output, sets=sets, overwrite=overwrite, dry_run=dry_run, wait=wait,
        json_out=json_out, verbose=verbose, quiet=quiet, stages=stages,
    )  # fmt: skip
