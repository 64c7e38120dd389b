"""`ovtool benchmark`: measure one or more models side by side (or diff two earlier runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import COMMON, MODEL, PERFORMANCE, RECIPE, RECIPE_OPTION, SHARED, Flag
from ovtool.cli.generate import ADAPTER_HELP, parse_adapters


def parse_shapes(items: list[str]) -> list[int] | dict[str, list[int]]:
    """--shape [1,128] (every input) or --shape input_ids=[1,128] (repeatable) → benchmark.shapes."""
    import json

    from ovtool.errors import UserError

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


FLAGS = (
    RECIPE, RECIPE_OPTION, *SHARED,
    Flag(("-m", "--model"), "benchmark.models", repeatable=True, param="models", panel=MODEL,
         help="Model to measure; repeat to compare (the first is the baseline)."),
    Flag(("-d", "--device"), "benchmark.device", panel=PERFORMANCE, help="CPU (default), GPU, NPU, AUTO…"),
    Flag("--hint", "benchmark.hint", choices=("throughput", "latency", "cumulative_throughput", "none"),
         panel=PERFORMANCE, help="OpenVINO performance hint (default throughput)."),
    Flag("--precision", "benchmark.precision", choices=("f32", "bf16", "f16", "auto"), panel=PERFORMANCE,
         help="Inference precision (auto: `ovtool tune`'s stored choice, else as `generate` runs it); "
              "default: the device's."),
    Flag(("-t", "--duration"), "benchmark.duration_s", type=float, panel=PERFORMANCE, help="Seconds per model."),
    Flag(("-n", "--iterations"), "benchmark.iterations", type=int, panel=PERFORMANCE, help="Inferences per model."),
    Flag("--shape", "benchmark.shapes", repeatable=True, convert=parse_shapes, panel=PERFORMANCE,
         help="Static input shape: [1,128] or NAME=[1,128] (repeatable)."),
    Flag("--adapter", "benchmark.adapters", repeatable=True, convert=parse_adapters, metavar="PATH[:ALPHA]",
         help=ADAPTER_HELP + " LLMs are measured without and with them."),
    Flag("--profile", "benchmark.profile", type=bool, panel=PERFORMANCE, help="Per-layer profile and execution graph."),
    Flag("--compare", type=tuple[Path, Path], panel=COMMON, metavar="A/run.json B/run.json",
         help="Diff two earlier runs (no OUT needed)."),
)  # fmt: skip

EXAMPLES = examples("""
    # latency of an ONNX detector (converted first)
    benchmark -m .assets/nudenet/320n.onnx -o runs/nudenet-latency --hint latency -t 5
    # the same, throughput hint
    benchmark -m .assets/nudenet/320n.onnx -o runs/nudenet-throughput -t 5
    # diff the two runs above
    benchmark --compare runs/nudenet-latency/run.json runs/nudenet-throughput/run.json
    # fp32 vs int8 MiniLM side by side, speedup gate (the recipe's convert: makes the int8 IR, so `run` it)
    run recipes/benchmark-minilm-fp32-int8.yaml
""")


def _body(call: Call) -> None:
    if call["compare"] is not None:
        _compare(call["compare"], call["json_out"])
        return
    call.run()


def _compare(paths: tuple[Path, Path], json_out: bool) -> Any:
    from ovtool import console
    from ovtool.benchmark_compare import compare_runs, render_markdown

    diff = compare_runs(*paths)
    if json_out:
        console.result_json(diff)
    else:
        console.result(render_markdown(diff))


benchmark = command("benchmark", FLAGS, examples=EXAMPLES, body=_body)
