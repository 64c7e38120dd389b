"""`ovtool convert`: a source model → OpenVINO IR in OUT/model."""

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
def convert(
    recipe: RecipeArg = None,
    model: ModelOpt = None,
    output: OutputOpt = None,
    task: Annotated[str | None, typer.Option(help="Hugging Face task; auto-detected when left out.")] = None,
    weight_format: Annotated[
        str | None, typer.Option("--weight-format", help="fp32, fp16 or int8 (data-free).")
    ] = None,
    source_format: Annotated[
        str | None, typer.Option("--source-format", help="Force the source format (hf, gguf, onnx, …).")
    ] = None,
    trust_remote_code: Annotated[
        bool | None, typer.Option("--trust-remote-code", help="Let an HF model run its own code.")
    ] = None,
    sets: SetOpt = None,
    overwrite: OverwriteOpt = False,
    wait: WaitOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Convert a Hugging Face folder, GGUF, ONNX, TFLite, TF, Paddle or PyTorch model to OpenVINO IR."""
    run_stage_command(
        "convert",
        recipe=recipe, model=model, output=output, sets=sets, overwrite=overwrite, dry_run=dry_run, wait=wait,
        json_out=json_out, verbose=verbose, quiet=quiet,
        flags={
            "convert.task": task,
            "convert.weight_format": weight_format,
            "convert.source_format": source_format,
            "convert.trust_remote_code": trust_remote_code,
        },
    )  # fmt: skip
