"""What the benchmark reports: tables, plots, report.csv, metrics, gate values and the summary line.

Policy of the benchmark stage (which figures, which ratios, which rows), read from the typed records of
`ovtool.stages.benchmark_records`; the first record is the baseline of every ratio.
"""

from __future__ import annotations

import csv
import io

from ovtool.results import Metric, Plot, Table
from ovtool.stages.benchmark_records import LLMRecord, StaticRecord, TimedRecord, TorchRecord
from ovtool.stats import ratio


def mix_text(mix: dict[str, int]) -> str:
    total = sum(mix.values()) or 1
    return ", ".join(f"{kind} {count / total:.0%}" for kind, count in mix.items())


def _timed(records: list[StaticRecord], pytorch: TorchRecord | None) -> list[TimedRecord]:
    return [*records, *([pytorch] if pytorch else [])]


def static_tables(records: list[StaticRecord], pytorch: TorchRecord | None, device: str) -> list[Table]:
    rows = _timed(records, pytorch)
    side = Table(
        "Models side by side (ratios to the first model)",
        ["model", "precision", "batch", "inferences/s", "items/s", "p50 ms", "p90 ms", "speedup",
         "latency ratio", "size MiB", "compression rate", "output bytes", "output size ratio"],
        [[r.label, r.precision, r.batch, r.throughput_inferences_per_s, r.throughput_items_per_s,
          r.latency_ms.p50, r.latency_ms.p90, r.ratios.speedup, r.ratios.latency_ratio, r.size_mb,
          r.ratios.compression_rate, _output_bytes(r), _or_dash(r.ratios.output_size_ratio)] for r in rows],
    )  # fmt: skip
    latency = Table(
        "Latency (ms)",
        ["model", "min", "mean", "p50", "p90", "p99", "max", "first inference", "compile / load"],
        [[r.label, r.latency_ms.min, r.latency_ms.mean, r.latency_ms.p50, r.latency_ms.p90, r.latency_ms.p99,
          r.latency_ms.max, r.first_inference_ms if isinstance(r, StaticRecord) else "-", r.startup_ms]
         for r in rows],
    )  # fmt: skip
    settings = Table(
        "Settings",
        ["model", "device", "hint", "streams", "infer requests", "threads", "input shapes", "input data",
         "iterations", "measured s", "RSS added MiB", "settings from"],
        [[r.label, device, r.compiled_properties.get("PERFORMANCE_HINT"), r.streams, r.infer_requests, r.threads,
          _shapes(r.input_shapes), r.input_data, r.iterations, r.measured_s, r.rss_added_mb,
          r.precision_choice.get("source", "-")] for r in records]
        + ([[pytorch.label, "torch CPU", "-", "-", 1, pytorch.torch_threads, "same as above", "same as above",
             pytorch.iterations, pytorch.measured_s, pytorch.rss_added_mb, "-"]] if pytorch else []),
    )  # fmt: skip
    outputs = Table(
        "Outputs per inference (what the application receives, at the benchmark's input shape)",
        ["model", "output", "shape", "type", "bytes"],
        [[r.label, o.name, str(o.shape), o.type, o.bytes] for r in records for o in r.outputs],
    )  # fmt: skip
    tables = [side, latency, settings, outputs, _mix_table(records)]
    for r in records:
        if r.profile_top_ops:
            tables.append(Table(
                f"Top operations by time — {r.label} (execution graph: {r.execution_graph})",
                ["node", "type", "exec type", "µs per inference", "share"],
                [[o.node, o.type, o.exec_type, o.time_us, f"{o.share:.1%}"] for o in r.profile_top_ops],
            ))  # fmt: skip
    return tables


def llm_tables(records: list[LLMRecord], device: str) -> list[Table]:
    side = Table(
        "Models side by side (ratios to the first model)",
        ["model", "precision", "generation tokens/s", "TTFT ms (longest prompt)", "TPOT ms", "speedup",
         "TTFT ratio", "size MiB", "compression rate", "load ms", "RSS added MiB"],
        [[r.label, r.precision, r.generation_tokens_per_s, r.ttft_ms_longest_prompt, r.tpot_ms, r.ratios.speedup,
          r.ratios.ttft_ratio, r.size_mb, r.ratios.compression_rate, r.pipeline_load_ms, r.rss_added_mb]
         for r in records],
    )  # fmt: skip
    base = {(p.prompt_tokens, p.output_tokens): p.generation_tokens_per_s for p in records[0].points}
    points = Table(
        f"Generation per prompt length ({device}, greedy, EOS ignored)",
        ["model", "prompt tokens", "output tokens", "runs", "TTFT ms", "TPOT ms", "TPOT p90 ms",
         "generation tokens/s", "end-to-end tokens/s", "speedup"],
        [[r.label, p.prompt_tokens, p.output_tokens, p.runs, p.ttft_ms, p.tpot_ms, p.tpot_p90_ms,
          p.generation_tokens_per_s, p.end_to_end_tokens_per_s,
          ratio(p.generation_tokens_per_s, base.get((p.prompt_tokens, p.output_tokens)))]
         for r in records for p in r.points],
    )  # fmt: skip
    return [side, points, _mix_table(records)]


def _mix_table(records: list[StaticRecord] | list[LLMRecord]) -> Table:
    return Table(
        "Weight precision mix (read from the IR)",
        ["model", "weights", "mix", "IR"],
        [[r.label, sum(r.ir.weight_precisions.values()), mix_text(r.ir.weight_precisions), r.xml] for r in records],
    )


def _output_bytes(record: TimedRecord) -> int | str:
    return record.output_bytes if isinstance(record, StaticRecord) else "-"


def _or_dash(value: float | None) -> float | str:
    return "-" if value is None else value


def _shapes(shapes: dict[str, list[int]]) -> str:
    return ", ".join(f"{name}{dims}" for name, dims in shapes.items())


def static_csv(records: list[StaticRecord], pytorch: TorchRecord | None, peak_rss_mb: float | None = None) -> str:
    """report.csv: one row per model (and the PyTorch baseline); memory: what loading the model added, and the
    peak resident memory of the whole benchmark process (the same on every row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "kind", "precision", "batch", "throughput_inferences_per_s", "throughput_items_per_s",
                     "latency_min_ms", "latency_mean_ms", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms",
                     "latency_max_ms", "first_inference_ms", "compile_ms", "size_mb", "speedup", "latency_ratio",
                     "compression_rate", "output_bytes", "output_size_ratio", "rss_added_mb",
                     "peak_rss_mb"])  # fmt: skip
    for r in _timed(records, pytorch):
        lat = r.latency_ms
        static = isinstance(r, StaticRecord)
        writer.writerow([r.label, r.kind, r.precision, r.batch, r.throughput_inferences_per_s,
                         r.throughput_items_per_s, lat.min, lat.mean, lat.p50, lat.p90, lat.p99, lat.max,
                         r.first_inference_ms if static else "", r.startup_ms, r.size_mb,
                         r.ratios.speedup, r.ratios.latency_ratio, r.ratios.compression_rate,
                         r.output_bytes if static else "", r.ratios.output_size_ratio, r.rss_added_mb,
                         peak_rss_mb])  # fmt: skip
    return buffer.getvalue()


def llm_csv(records: list[LLMRecord], peak_rss_mb: float | None = None) -> str:
    """report.csv: one row per model × prompt/output length (memory columns as in static_csv)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "precision", "prompt_tokens", "output_tokens", "runs", "ttft_ms", "tpot_ms",
                     "tpot_p90_ms", "generation_tokens_per_s", "end_to_end_tokens_per_s", "ir_size_mb",
                     "speedup", "compression_rate", "rss_added_mb", "peak_rss_mb"])  # fmt: skip
    for r in records:
        for p in r.points:
            writer.writerow([r.label, r.precision, p.prompt_tokens, p.output_tokens, p.runs, p.ttft_ms, p.tpot_ms,
                             p.tpot_p90_ms, p.generation_tokens_per_s, p.end_to_end_tokens_per_s, r.size_mb,
                             r.ratios.speedup, r.ratios.compression_rate, r.rss_added_mb, peak_rss_mb])  # fmt: skip
    return buffer.getvalue()


def static_gate_values(records: list[StaticRecord], pytorch: TorchRecord | None) -> dict[str, float]:
    """What the gates check: the candidates' worst figures (every model after the first, or the only one).

    speedup is against the first model; with one model and a PyTorch baseline, against PyTorch.
    """
    candidates = records[1:] or records
    values = {
        "throughput": min(r.throughput_inferences_per_s for r in candidates),
        "latency_ms": max(r.latency_ms.p50 for r in candidates),
    }
    speedups = [r.ratios.speedup for r in candidates if r.ratios.speedup is not None]
    if len(records) > 1 and speedups:
        values["speedup"] = min(speedups)
    elif len(records) == 1 and pytorch is not None and pytorch.throughput_inferences_per_s:
        values["speedup"] = round(records[0].throughput_inferences_per_s / pytorch.throughput_inferences_per_s, 4)
    return values


def llm_gate_values(records: list[LLMRecord]) -> dict[str, float]:
    """tokens/s, TTFT and speedup of the candidates' worst model (see static_gate_values)."""
    candidates = records[1:] or records
    values = {
        "tokens_per_s": min(r.generation_tokens_per_s for r in candidates),
        "ttft_ms": max(r.ttft_ms_longest_prompt for r in candidates),
    }
    speedups = [r.ratios.speedup for r in candidates if r.ratios.speedup is not None]
    if len(records) > 1 and speedups:
        values["speedup"] = min(speedups)
    return values


def static_metrics(records: list[StaticRecord], pytorch: TorchRecord | None) -> dict[str, Metric]:
    """The headline figures of every model, keyed `<label>.<figure>`."""
    metrics: dict[str, Metric] = {}
    for r in _timed(records, pytorch):
        label = r.label
        metrics[f"{label}.throughput"] = Metric(r.throughput_inferences_per_s, "inferences/s")
        metrics[f"{label}.throughput_items"] = Metric(r.throughput_items_per_s, "items/s", f"batch {r.batch}")
        metrics[f"{label}.latency_p50"] = Metric(r.latency_ms.p50, "ms", "latency p50")
        metrics[f"{label}.latency_p90"] = Metric(r.latency_ms.p90, "ms", "latency p90")
        metrics[f"{label}.latency_p99"] = Metric(r.latency_ms.p99, "ms", "latency p99")
        if isinstance(r, StaticRecord):
            metrics[f"{label}.output_bytes"] = Metric(r.output_bytes, "bytes", "all outputs per inference")
        if r is not records[0] and r.ratios.speedup is not None:
            metrics[f"{label}.speedup"] = Metric(r.ratios.speedup, "x", f"throughput vs {records[0].label}")
    return metrics


def llm_metrics(records: list[LLMRecord]) -> dict[str, Metric]:
    """Every figure warm (after `warmup` generations) and defined; docs/benchmark.md maps them to other tools."""
    metrics: dict[str, Metric] = {}
    for r in records:
        label = r.label
        metrics[f"{label}.generation_tokens_per_s"] = Metric(
            r.generation_tokens_per_s, "tokens/s", "warm: steady-state decode rate, openvino_genai's throughput "
            "(1000 / TPOT; llm_bench's and optimum-intel's tokens/s), mean over prompt/output lengths"
        )  # fmt: skip
        metrics[f"{label}.ttft_ms"] = Metric(r.ttft_ms_longest_prompt, "ms",
                                             "warm: time to first token (prefill) at the longest prompt")  # fmt: skip
        metrics[f"{label}.tpot_ms"] = Metric(r.tpot_ms, "ms", "warm: time per output token after the first, mean "
                                             "over prompt/output lengths")  # fmt: skip
        longest = max(r.points, key=lambda p: p.prompt_tokens)
        if longest.ttft_ms:
            metrics[f"{label}.prefill_tokens_per_s"] = Metric(
                round(longest.prompt_tokens * 1000 / longest.ttft_ms, 1), "tokens/s",
                "warm: prompt tokens / TTFT at the longest prompt",
            )  # fmt: skip
        metrics[f"{label}.load_s"] = Metric(round(r.pipeline_load_ms / 1000, 3), "s",
                                            "cold: LLMPipeline construction (read and compile the IR)")  # fmt: skip
        if r is not records[0] and r.ratios.speedup is not None:
            metrics[f"{label}.speedup"] = Metric(r.ratios.speedup, "x", f"tokens/s vs {records[0].label}")
    return metrics


def static_summary(records: list[StaticRecord], pytorch: TorchRecord | None, device: str) -> str:
    """The one line printed to stdout."""
    parts = [
        f"{r.label}: {r.throughput_inferences_per_s:.1f} inf/s, p50 {r.latency_ms.p50:.2f} ms"
        + (f", out {_bytes_text(r.output_bytes)}" if isinstance(r, StaticRecord) else "")
        + (f", ×{r.ratios.speedup:.2f}" if r is not records[0] else "")
        + (
            f" (latency ×{r.ratios.latency_ratio:.2f}, output ×{r.ratios.output_size_ratio:.3g})"
            if r is not records[0] and r.ratios.latency_ratio is not None and r.ratios.output_size_ratio is not None
            else ""
        )
        for r in _timed(records, pytorch)
    ]
    return " · ".join(parts) + f" ({device}, {records[0].precision})"


def _bytes_text(count: int) -> str:
    """120 B, 19.5 KiB, 24.0 MiB: output sizes on the console line."""
    if count < 1024:
        return f"{count} B"
    if count < 1024**2:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024**2:.1f} MiB"


def llm_summary(records: list[LLMRecord], longest_prompt: int, device: str) -> str:
    parts = [
        f"{r.label}: {r.generation_tokens_per_s:.1f} tokens/s, TTFT {r.ttft_ms_longest_prompt:.0f} ms "
        f"@{longest_prompt} tokens" + (f", ×{r.ratios.speedup:.2f}" if r is not records[0] else "")
        for r in records
    ]
    return " · ".join(parts) + f" ({device}, {records[0].precision})"


def static_plots(latencies: dict[str, list[float]], records: list[StaticRecord], pytorch: TorchRecord | None
                 ) -> list[Plot]:  # fmt: skip
    """Latency distribution per model (box plot) and throughput per model (bars)."""
    from ovtool.plotting import png, pyplot

    plt = pyplot()
    throughput = {r.label: r.throughput_inferences_per_s for r in _timed(records, pytorch)}
    labels = list(latencies)
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(labels) + 1.8))
    ax.boxplot([latencies[label] for label in labels], vert=False, showfliers=True, whis=(1, 99))
    ax.set_yticks(range(1, len(labels) + 1), labels)
    ax.set_xlabel("latency per inference (ms); whiskers p1–p99")
    plots = [Plot("Latency distribution", png(fig))]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(throughput) + 1.8))
    ax.barh(list(throughput), list(throughput.values()), color="#3b75af")
    ax.invert_yaxis()
    ax.set_xlabel("throughput (inferences/s)")
    for i, value in enumerate(throughput.values()):
        ax.text(value, i, f" {value:.1f}", va="center")
    plots.append(Plot("Throughput per model", png(fig)))
    return plots


def llm_plots(records: list[LLMRecord]) -> list[Plot]:
    """TTFT and TPOT against prompt length, one line per model (first output length).

    None for a single prompt length: one dot per model says what the table says, and matplotlib
    (~1 s of import and drawing) was most of what a one-length benchmark cost over the plain library.
    """
    if len({p.prompt_tokens for record in records for p in record.points}) < 2:
        return []
    from ovtool.plotting import png, pyplot

    plt = pyplot()
    fig, (ttft_ax, tpot_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for record in records:
        first_output = record.points[0].output_tokens
        points = sorted((p for p in record.points if p.output_tokens == first_output), key=lambda p: p.prompt_tokens)
        lengths = [p.prompt_tokens for p in points]
        ttft_ax.plot(lengths, [p.ttft_ms for p in points], marker="o", label=record.label)
        tpot_ax.plot(lengths, [p.tpot_ms for p in points], marker="o", label=record.label)
    for ax, what in ((ttft_ax, "time to first token (ms)"), (tpot_ax, "time per output token (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("prompt tokens")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    return [Plot("TTFT and TPOT per prompt length", png(fig))]
