"""`ovtool quantize`: INT8/FP8 post-training quantization or weight compression of an IR, with its quality cost."""

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
def quantize(
    recipe: RecipeArg = None,
    model: ModelOpt = None,
    output: OutputOpt = None,
    calibration: Annotated[
        str | None, typer.Option("--calibration", help="Calibration data: a file/folder (text or images).")
    ] = None,
    evaluation: Annotated[
        str | None, typer.Option("--evaluation", help="Held-out data for the quality report.")
    ] = None,
    data_kind: Annotated[
        str | None, typer.Option("--data-kind", help="text or image (for --calibration/--evaluation).")
    ] = None,
    samples: Annotated[int | None, typer.Option("--samples", help="Calibration samples to draw.")] = None,
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Weight compression mode (int4_asym, int8_sym, nf4…) instead of PTQ."),
    ] = None,
    group_size: Annotated[int | None, typer.Option("--group-size", help="Weights per group (-1 per channel).")] = None,
    ratio: Annotated[float | None, typer.Option("--ratio", help="Share of layers in the weights mode.")] = None,
    awq: Annotated[bool | None, typer.Option("--awq", help="AWQ (needs --calibration).")] = None,
    scale_estimation: Annotated[
        bool | None, typer.Option("--scale-estimation", help="Scale estimation (needs --calibration).")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="PTQ: int8, fp8_e4m3 or fp8_e5m2.")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="PTQ: performance or mixed.")] = None,
    model_type: Annotated[str | None, typer.Option("--model-type", help="PTQ: transformer.")] = None,
    subset_size: Annotated[int | None, typer.Option("--subset-size", help="PTQ calibration subset.")] = None,
    sets: SetOpt = None,
    overwrite: OverwriteOpt = False,
    wait: WaitOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Quantize a model (INT8/FP8 PTQ or INT4/INT8/NF4… weights) and report the quality and speed it cost."""
    run_stage_command(
        "quantize",
        recipe=recipe, model=model, output=output, sets=sets, overwrite=overwrite, dry_run=dry_run, wait=wait,
        json_out=json_out, verbose=verbose, quiet=quiet,
        flags={
            "quantize.calibration.path": calibration,
            "quantize.calibration.kind": data_kind if calibration else None,
            "quantize.calibration.samples": samples,
            "quantize.evaluation.path": evaluation,
            "quantize.evaluation.kind": data_kind if evaluation else None,
            "quantize.weights.mode": weights,
            "quantize.weights.group_size": group_size,
            "quantize.weights.ratio": ratio,
            "quantize.weights.awq": awq,
            "quantize.weights.scale_estimation": scale_estimation,
            "quantize.mode": mode,
            "quantize.preset": preset,
            "quantize.model_type": model_type,
            "quantize.subset_size": subset_size,
        },
    )  # fmt: skip
