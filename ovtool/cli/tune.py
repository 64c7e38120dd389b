"""`ovtool tune -m IR`: measure which device settings run this IR fastest here, store the choice, print the table.

The choice is stored under the ovtool cache folder, keyed by the IR's content, the CPU model and ISA,
the OpenVINO version and the device; `generate`/`benchmark --precision auto` and the recipe key
`inference_precision: auto` use it from then on (docs/tune.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.cli.benchmark import parse_shapes
from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import OUTPUT, PERFORMANCE, Flag

FLAGS = (
    Flag(("-m", "--model"), type=Path, help="An OpenVINO IR: a folder (an LLM with its tokenizer IRs) or an .xml."),
    Flag(("-d", "--device"), default="CPU", panel=PERFORMANCE, help="The device to tune for."),
    Flag("--seconds", type=float, default=2.0, panel=PERFORMANCE, help="Timing budget per candidate (seconds)."),
    Flag("--goal", choices=("latency", "throughput"), panel=PERFORMANCE,
         help="Static models: what to minimise, default latency (LLMs: warm decode time per token). Given, a "
              "choice stored for the other goal is measured again."),
    Flag("--shape", repeatable=True, panel=PERFORMANCE, help="Static input shape: [1,128] or NAME=[1,128]."),
    Flag("--force", type=bool, default=False, panel=PERFORMANCE, help="Measure again even when a choice is stored."),
    Flag("--json", type=bool, default=False, panel=OUTPUT, param="json_out", help="Print the record as JSON."),
)  # fmt: skip

EXAMPLES = examples("""
    # the fastest precision / KV cache / dynamic quantization for an LLM IR on this CPU
    tune -m runs/smollm2-int4/model
    # a static model, for throughput, one second per candidate
    tune -m runs/nudenet-ir/model --goal throughput --seconds 1 --shape [1,3,320,320]
""")


def _body(call: Call) -> None:
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.ir_folder import IRFolder
    from ovtool.tuning import api

    model, device = call["model"], call["device"].upper()
    if model is None:
        raise UserError("tune: give the IR to tune with -m MODEL")
    if not model.exists():
        raise UserError(f"tune: {model} does not exist: give an OpenVINO IR folder or .xml")
    if call["seconds"] <= 0:
        raise UserError("tune: --seconds must be above 0")
    if IRFolder.find(model) is None:
        raise UserError(f"tune: {model} holds no OpenVINO IR: convert it first (`ovtool convert`)")
    shapes = parse_shapes(call["shape"]) if call["shape"] else None  # a bad --shape exits 2 whatever is stored
    tuned = None if call["force"] else api.stored(model, device)
    goal = call["goal"]
    if tuned is not None and goal is not None and tuned.record.get("goal") not in (None, goal):  # static IRs
        console.info(f"tune: the stored choice is for --goal {tuned.record['goal']}: measuring for {goal}")
        tuned = None
    if tuned is None:
        tuned = api.measure(model, device, seconds=call["seconds"], goal=goal or "latency", shapes=shapes,
                            progress=console.info)  # fmt: skip
    else:
        console.info("tune: a choice is stored for this IR on this machine (--force measures again)")
    record = {**tuned.record, "source": tuned.source}
    if call["json_out"]:
        console.result_json(record)
        return
    for line in table_lines(record["tried"]):
        console.result(line)
    console.info(f"chosen ({tuned.source}): {_settings(tuned.settings)} on {record.get('cpu_name', '?')}")


def _settings(settings: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items()) or "device defaults"


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The tried candidates as aligned text columns (axis, settings, ms, extra figures, guard, chosen)."""
    extras = [k for k in ("tokens_per_s", "ttft_ms", "fps", "latency_ms") if any(k in r for r in rows)]
    head = ["axis", "settings", "ms", *extras, "quality", "chosen"]
    body = [[r["axis"], _settings(r["settings"]), f"{r['ms']:.2f}", *[f"{r.get(k, 0):.1f}" for k in extras],
             r["quality"], "*" if r["chosen"] else ""] for r in rows]  # fmt: skip
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [head, *body]]


tune = command("tune", FLAGS, examples=EXAMPLES, body=_body)
