"""`ovtool distill`: teacher → student (HF Trainer), optionally with structured pruning and NNCF QAT (JPQD)."""

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
def distill(
    recipe: RecipeArg = None,
    model: ModelOpt = None,
    output: OutputOpt = None,
    data: Annotated[str | None, typer.Option("--data", help="Labeled text: folder per label, .jsonl or .csv.")] = None,
    student: Annotated[str | None, typer.Option("--student", help="Student HF folder (default: derived).")] = None,
    student_layers: Annotated[
        int | None, typer.Option("--student-layers", help="Derive the student: keep N teacher layers.")
    ] = None,
    temperature: Annotated[float | None, typer.Option(help="KL temperature (default 3).")] = None,
    alpha: Annotated[float | None, typer.Option(help="Weight of the KL term (default 0.9).")] = None,
    epochs: Annotated[float | None, typer.Option(help="Training epochs.")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after N optimizer steps.")] = None,
    sets: SetOpt = None,
    overwrite: OverwriteOpt = False,
    wait: WaitOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Distil a Hugging Face teacher into a smaller student; with structured + qat sections: JPQD → INT8 IR."""
    run_stage_command(
        "distill",
        recipe=recipe, model=model, output=output, sets=sets, overwrite=overwrite, dry_run=dry_run, wait=wait,
        json_out=json_out, verbose=verbose, quiet=quiet,
        flags={
            "distill.data.path": data,
            "distill.student.path": student,
            "distill.student.layers": student_layers,
            "distill.temperature": temperature,
            "distill.alpha": alpha,
            "distill.training.epochs": epochs,
            "distill.training.max_steps": max_steps,
        },
    )  # fmt: skip
