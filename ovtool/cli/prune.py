"""`ovtool prune`: structured (heads/FFN neurons removed) or unstructured (NNCF) pruning → IR."""

from __future__ import annotations

from typing import Annotated

import typer

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
    WaitOpt,
    guarded,
    run_stage_command,
)  # fmt: skip


@guarded
def prune(
    recipe: RecipeArg = None,
    model: ModelOpt = None,
    output: OutputOpt = None,
    method: Annotated[
        str | None,
        typer.Option(help="structured, magnitude_local, magnitude_global or regularization."),
    ] = None,
    data: Annotated[str | None, typer.Option("--data", help="Labeled text: folder per label, .jsonl or .csv.")] = None,
    heads_ratio: Annotated[float | None, typer.Option("--heads-ratio", help="Share of heads to remove.")] = None,
    ffn_ratio: Annotated[float | None, typer.Option("--ffn-ratio", help="Share of FFN neurons to remove.")] = None,
    sparsity: Annotated[float | None, typer.Option(help="Target share of zero weights (unstructured).")] = None,
    sets: SetOpt = None,
    overwrite: OverwriteOpt = False,
    wait: WaitOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Prune a Hugging Face encoder: remove heads/FFN neurons by gradient importance, or NNCF sparsity."""
    run_stage_command(
        "prune",
        recipe=recipe, model=model, output=output, sets=sets, overwrite=overwrite, dry_run=dry_run, wait=wait,
        json_out=json_out, verbose=verbose, quiet=quiet,
        flags={
            "prune.method": method,
            "prune.data.path": data,
            "prune.structured.heads_ratio": heads_ratio,
            "prune.structured.ffn_ratio": ffn_ratio,
            "prune.sparsity": sparsity,
        },
    )  # fmt: skip
