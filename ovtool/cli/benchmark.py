"""`ovtool benchmark`: measure one or more models side by side (or diff two earlier runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ovtool.cli.common import (
    DryRunOpt,
    JsonOpt,
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

ModelsOpt = Annotated[
    list[str] | None,
    typer.Option("-m", "--model", help="Model to measure; repeat to compare (the first is the baseline)."),
]


def parse_shapes(items: list[str] | None) -> list[int] | dict[str, list[int]] | None:
    """--shape [1,128] (every input) or --shape input_ids=[1,128] (repeatable) → benchmark.shapes."""
    from ovtool.errors import UserError

    if not items:
        return None
    named: dict[str, list[int]] = {}
    for item in items:
        name, sep, dims_text = item.partition("=") if not item.lstrip().startswith("[") else ("", "", item)
        try:
            dims = json.loads(dims_text)
        except json.JSONDecodeError as exc:
            raise UserError(f"--shape {item!r}: expected [1,128] or NAME=[1,128]") from exc
        if not isinstance(dims, list) or not all(isinstance(d, int) for d in dims):
            raise UserError(f"--shape {item!r}: the shape is a list of ints, e.g. [1,128]")
        if not sep:
            if len(items) > 1:
                raise UserError("--shape without a NAME= applies to every input: give it once")
            return dims
        named[name.strip()] = dims
    return named


@guarded
def benchmark(
    recipe: RecipeArg = None,
    models: ModelsOpt = None,
    output: OutputOpt = None,
    device: Annotated[str | None, typer.Option("-d", "--device", help="CPU (default), GPU, NPU, AUTO…")] = None,
    hint: Annotated[
        str | None, typer.Option(help="throughput (default), latency, cumulative_throughput or none.")
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="f32, bf16, f16 or auto (LLMs as `generate` runs them); default: the device's.")
    ] = None,
    duration: Annotated[float | None, typer.Option("-t", "--duration", help="Seconds per model.")] = None,
    iterations: Annotated[int | None, typer.Option("-n", "--iterations", help="Inferences per model.")] = None,
    shape: Annotated[
        list[str] | None, typer.Option("--shape", help="Static input shape: [1,128] or NAME=[1,128] (repeatable).")
    ] = None,
    profile: Annotated[bool | None, typer.Option("--profile", help="Per-layer profile and execution graph.")] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option("--compare", help="Diff two earlier runs: --compare A/run.json B/run.json (no OUT needed)."),
    ] = None,
    sets: SetOpt = None,
    overwrite: OverwriteOpt = False,
    wait: WaitOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Measure latency, throughput and LLM metrics; several -m are measured side by side."""
    if compare is not None:
        _compare(compare, json_out)
        return
    flags: dict[str, Any] = {
        "benchmark.models": list(models) if models else None,
        "benchmark.device": device,
        "benchmark.hint": hint,
        "benchmark.precision": precision,
        "benchmark.duration_s": duration,
        "benchmark.iterations": iterations,
        "benchmark.shapes": parse_shapes(shape),
        "benchmark.profile": profile,
    }
    run_stage_command(
        "benchmark",
        recipe=recipe, model=None, output=output, sets=sets, overwrite=overwrite, dry_run=dry_run, wait=wait,
        json_out=json_out, verbose=verbose, quiet=quiet, flags=flags,
    )  # fmt: skip


def _compare(paths: tuple[Path, Path], json_out: bool) -> None:
    from ovtool import console
    from ovtool.benchmark_compare import compare_runs, render_markdown

    diff = compare_runs(*paths)
    if json_out:
        console.result_json(diff)
    else:
        console.result(render_markdown(diff))
