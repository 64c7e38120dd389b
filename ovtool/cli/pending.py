"""Stage commands a later issue builds; they share the common options and report 'not implemented yet'."""

from __future__ import annotations

from collections.abc import Callable

from ovtool.cli.common import (
    DryRunOpt,
    JsonOpt,
    ModelOpt,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    RecipeArg,
    SetOpt,
    VerboseOpt,
    guarded,
    run_stage_command,
)  # fmt: skip


def make_pending_command(stage: str, help_text: str) -> Callable[..., None]:
    @guarded
    def command(
        recipe: RecipeArg = None,
        model: ModelOpt = None,
        output: OutputOpt = None,
        sets: SetOpt = None,
        overwrite: OverwriteOpt = False,
        dry_run: DryRunOpt = False,
        json_out: JsonOpt = False,
        verbose: VerboseOpt = 0,
        quiet: QuietOpt = False,
    ) -> None:
        run_stage_command(
            stage, recipe=recipe, model=model, output=output, sets=sets, overwrite=overwrite,
            dry_run=dry_run, json_out=json_out, verbose=verbose, quiet=quiet,
        )  # fmt: skip

    command.__doc__ = help_text
    command.__name__ = stage
    return command
