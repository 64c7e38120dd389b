"""Benchmark records → ratios to the baseline, report tables, report.csv rows, gate values.

Records are the JSON-able dicts the backends' `as_dict()` give (units in the keys); the first
record is the baseline of every ratio.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ovtool.backends.bench_stats import ratio
from ovtool.results import Metric, Table


def add_static_ratios(records: list[dict[str, Any]], pytorch: dict[str, Any] | None) -> None:
    """speedup (throughput), latency ratio (p50) and compression rate (size) against the first model."""
    base = records[0]
    for record in [*records, *([pytorch] if pytorch else [])]:
        record["ratios"] = {
            "speedup": ratio(record["throughput_inferences_per_s"], base["throughput_inferences_per_s"]),
            "latency_ratio": ratio(record["latency_ms"]["p50"], base["latency_ms"]["p50"]),
            "compression_rate": ratio(base["ir_size_mb"], record.get("ir_size_mb", record.get("size_mb"))),
        }


def add_llm_ratios(records: list[dict[str, Any]]) -> None:
    """speedup (generation tokens/s), TTFT and TPOT ratios and compression rate against the first model."""
    base = records[0]
    for record in records:
        record["ratios"] = {
            "speedup": ratio(record["generation_tokens_per_s"], base["generation_tokens_per_s"]),
            "ttft_ratio": ratio(record["ttft_ms_longest_prompt"], base["ttft_ms_longest_prompt"]),
            "tpot_ratio": ratio(record["tpot_ms"], base["tpot_ms"]),
            "compression_rate": ratio(base["ir_size_mb"], record["ir_size_mb"]),
        }


def mix_text(mix: dict[str, int]) -> str:
    total = sum(mix.values()) or 1
    return ", ".join(f"{kind} {count / total:.0%}" for kind, count in mix.items())


def static_tables(records: list[dict[str, Any]], pytorch: dict[str, Any] | None, device: str) -> list[Table]:
    rows = [*records, *([pytorch] if pytorch else [])]
    side = Table(
        "Models side by side (ratios to the first model)",
        ["model", "precision", "batch", "inferences/s", "items/s", "p50 ms", "p90 ms", "speedup",
         "latency ratio", "size MiB", "compression rate"],
        [[r["label"], r["precision"], r["batch"], r["throughput_inferences_per_s"], r["throughput_items_per_s"],
          r["latency_ms"]["p50"], r["latency_ms"]["p90"], r["ratios"]["speedup"], r["ratios"]["latency_ratio"],
          r.get("ir_size_mb", r.get("size_mb")), r["ratios"]["compression_rate"]] for r in rows],
    )  # fmt: skip
    latency = Table(
        "Latency (ms)",
        ["model", "min", "mean", "p50", "p90", "p99", "max", "first inference", "compile / load"],
        [[r["label"], *(r["latency_ms"][k] for k in ("min", "mean", "p50", "p90", "p99", "max")),
          r.get("first_inference_ms", "-"), r.get("compile_ms", r.get("load_ms"))] for r in rows],
    )  # fmt: skip
    settings = Table(
        "Settings",
        ["model", "device", "hint", "streams", "infer requests", "threads", "input shapes", "input data",
         "iterations", "measured s", "RSS added MiB"],
        [[r["label"], device, r["compiled_properties"].get("PERFORMANCE_HINT"), r["streams"], r["infer_requests"],
          r["threads"], _shapes(r["input_shapes"]), r["input_data"], r["iterations"], r["measured_s"],
          r["rss_added_mb"]] for r in records]
        + ([[pytorch["label"], "torch CPU", "-", "-", 1, pytorch["torch_threads"], "same as above",
             "same as above", pytorch["iterations"], pytorch["measured_s"], pytorch["rss_added_mb"]]]
           if pytorch else []),
    )  # fmt: skip
    tables = [side, latency, settings, _mix_table(records)]
    for r in records:
        if r.get("profile_top_ops"):
            tables.append(Table(
                f"Top operations by time — {r['label']} (execution graph: {r['execution_graph']})",
                ["node", "type", "exec type", "µs per inference", "share"],
                [[o["node"], o["type"], o["exec_type"], o["time_us"], f"{o['share']:.1%}"]
                 for o in r["profile_top_ops"]],
            ))  # fmt: skip
    return tables


def llm_tables(records: list[dict[str, Any]], device: str) -> list[Table]:
    side = Table(
        "Models side by side (ratios to the first model)",
        ["model", "precision", "generation tokens/s", "TTFT ms (longest prompt)", "TPOT ms", "speedup",
         "TTFT ratio", "size MiB", "compression rate", "load ms", "RSS added MiB"],
        [[r["label"], r["precision"], r["generation_tokens_per_s"], r["ttft_ms_longest_prompt"], r["tpot_ms"],
          r["ratios"]["speedup"], r["ratios"]["ttft_ratio"], r["ir_size_mb"], r["ratios"]["compression_rate"],
          r["pipeline_load_ms"], r["rss_added_mb"]] for r in records],
    )  # fmt: skip
    base = {(p["prompt_tokens"], p["output_tokens"]): p for p in records[0]["points"]}
    points = Table(
        f"Generation per prompt length ({device}, greedy, EOS ignored)",
        ["model", "prompt tokens", "output tokens", "runs", "TTFT ms", "TPOT ms", "TPOT p90 ms",
         "generation tokens/s", "end-to-end tokens/s", "speedup"],
        [[r["label"], p["prompt_tokens"], p["output_tokens"], p["runs"], p["ttft_ms"], p["tpot_ms"],
          p["tpot_p90_ms"], p["generation_tokens_per_s"], p["end_to_end_tokens_per_s"],
          ratio(p["generation_tokens_per_s"],
                base.get((p["prompt_tokens"], p["output_tokens"]), {}).get("generation_tokens_per_s"))]
         for r in records for p in r["points"]],
    )  # fmt: skip
    return [side, points, _mix_table(records)]


def _mix_table(records: list[dict[str, Any]]) -> Table:
    return Table(
        "Weight precision mix (read from the IR)",
        ["model", "weights", "mix", "IR"],
        [[r["label"], sum(r["weight_precisions"].values()), mix_text(r["weight_precisions"]), r["xml"]]
         for r in records],
    )  # fmt: skip


def _shapes(shapes: dict[str, list[int]]) -> str:
    return ", ".join(f"{name}{dims}" for name, dims in shapes.items())


def csv_text(mode: str, records: list[dict[str, Any]], pytorch: dict[str, Any] | None) -> str:
    """report.csv: one row per model (static) or per model × prompt/output length (llm)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if mode == "llm":
        writer.writerow(["model", "precision", "prompt_tokens", "output_tokens", "runs", "ttft_ms", "tpot_ms",
                         "tpot_p90_ms", "generation_tokens_per_s", "end_to_end_tokens_per_s", "ir_size_mb",
                         "speedup", "compression_rate"])  # fmt: skip
        for r in records:
            for p in r["points"]:
                writer.writerow([r["label"], r["precision"], p["prompt_tokens"], p["output_tokens"], p["runs"],
                                 p["ttft_ms"], p["tpot_ms"], p["tpot_p90_ms"], p["generation_tokens_per_s"],
                                 p["end_to_end_tokens_per_s"], r["ir_size_mb"], r["ratios"]["speedup"],
                                 r["ratios"]["compression_rate"]])  # fmt: skip
        return buffer.getvalue()
    writer.writerow(["model", "kind", "precision", "batch", "throughput_inferences_per_s", "throughput_items_per_s",
                     "latency_min_ms", "latency_mean_ms", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms",
                     "latency_max_ms", "first_inference_ms", "compile_ms", "size_mb", "speedup", "latency_ratio",
                     "compression_rate"])  # fmt: skip
    for r in [*records, *([pytorch] if pytorch else [])]:
        lat = r["latency_ms"]
        writer.writerow([r["label"], r["kind"], r["precision"], r["batch"], r["throughput_inferences_per_s"],
                         r["throughput_items_per_s"], lat["min"], lat["mean"], lat["p50"], lat["p90"], lat["p99"],
                         lat["max"], r.get("first_inference_ms", ""), r.get("compile_ms", r.get("load_ms")),
                         r.get("ir_size_mb", r.get("size_mb")), r["ratios"]["speedup"], r["ratios"]["latency_ratio"],
                         r["ratios"]["compression_rate"]])  # fmt: skip
    return buffer.getvalue()


def gate_values(mode: str, records: list[dict[str, Any]], pytorch: dict[str, Any] | None) -> dict[str, float]:
    """What the gates check: the candidates' worst figures (every model after the first, or the only one).

    speedup is against the first model; with one model and a PyTorch baseline, against PyTorch.
    """
    candidates = records[1:] or records
    values: dict[str, float] = {}
    if mode == "llm":
        values["tokens_per_s"] = min(r["generation_tokens_per_s"] for r in candidates)
        values["ttft_ms"] = max(r["ttft_ms_longest_prompt"] for r in candidates)
        if len(records) > 1:
            values["speedup"] = min(r["ratios"]["speedup"] for r in candidates)
        return values
    values["throughput"] = min(r["throughput_inferences_per_s"] for r in candidates)
    values["latency_ms"] = max(r["latency_ms"]["p50"] for r in candidates)
    if len(records) > 1:
        values["speedup"] = min(r["ratios"]["speedup"] for r in candidates)
    elif pytorch is not None and pytorch["throughput_inferences_per_s"]:
        values["speedup"] = round(records[0]["throughput_inferences_per_s"] / pytorch["throughput_inferences_per_s"], 4)
    return values


def headline(mode: str, record: dict[str, Any]) -> float:
    """The one speed figure a regression is measured on: inferences/s or generation tokens/s."""
    return record["generation_tokens_per_s"] if mode == "llm" else record["throughput_inferences_per_s"]


def static_metrics(records: list[dict[str, Any]], pytorch: dict[str, Any] | None) -> dict[str, Metric]:
    """The headline figures of every model, keyed `<label>.<figure>`."""
    metrics: dict[str, Metric] = {}
    for r in [*records, *([pytorch] if pytorch else [])]:
        label = r["label"]
        metrics[f"{label}.throughput"] = Metric(r["throughput_inferences_per_s"], "inferences/s")
        metrics[f"{label}.throughput_items"] = Metric(r["throughput_items_per_s"], "items/s", f"batch {r['batch']}")
        for key in ("p50", "p90", "p99"):
            metrics[f"{label}.latency_{key}"] = Metric(r["latency_ms"][key], "ms", f"latency {key}")
        if r is not records[0] and r["ratios"]["speedup"] is not None:
            metrics[f"{label}.speedup"] = Metric(r["ratios"]["speedup"], "x", f"throughput vs {records[0]['label']}")
    return metrics


def llm_metrics(records: list[dict[str, Any]]) -> dict[str, Metric]:
    metrics: dict[str, Metric] = {}
    for r in records:
        label = r["label"]
        metrics[f"{label}.generation_tokens_per_s"] = Metric(
            r["generation_tokens_per_s"], "tokens/s", "mean over prompt/output lengths"
        )
        metrics[f"{label}.ttft_ms"] = Metric(r["ttft_ms_longest_prompt"], "ms", "at the longest prompt")
        metrics[f"{label}.tpot_ms"] = Metric(r["tpot_ms"], "ms", "mean over prompt/output lengths")
        if r is not records[0] and r["ratios"]["speedup"] is not None:
            metrics[f"{label}.speedup"] = Metric(r["ratios"]["speedup"], "x", f"tokens/s vs {records[0]['label']}")
    return metrics


def static_summary(records: list[dict[str, Any]], pytorch: dict[str, Any] | None, device: str) -> str:
    """The one line printed to stdout."""
    parts = [
        f"{r['label']}: {r['throughput_inferences_per_s']:.1f} inf/s, p50 {r['latency_ms']['p50']:.2f} ms"
        + (f", ×{r['ratios']['speedup']:.2f}" if r is not records[0] else "")
        for r in [*records, *([pytorch] if pytorch else [])]
    ]
    return " · ".join(parts) + f" ({device}, {records[0]['precision']})"


def llm_summary(records: list[dict[str, Any]], longest_prompt: int, device: str) -> str:
    parts = [
        f"{r['label']}: {r['generation_tokens_per_s']:.1f} tokens/s, TTFT {r['ttft_ms_longest_prompt']:.0f} ms "
        f"@{longest_prompt} tokens" + (f", ×{r['ratios']['speedup']:.2f}" if r is not records[0] else "")
        for r in records
    ]
    return " · ".join(parts) + f" ({device}, {records[0]['precision']})"
