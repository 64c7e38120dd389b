"""Benchmark plots for report.html (matplotlib, Agg backend, PNG bytes)."""

from __future__ import annotations

from typing import Any

from ovtool.plotting import png, pyplot
from ovtool.results import Plot


def static_plots(latencies: dict[str, list[float]], throughput: dict[str, float]) -> list[Plot]:
    """Latency distribution per model (box plot) and throughput per model (bars)."""
    plt = pyplot()
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


def llm_plots(records: list[dict[str, Any]]) -> list[Plot]:
    """TTFT and TPOT against prompt length, one line per model (first output length)."""
    plt = pyplot()
    fig, (ttft_ax, tpot_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for record in records:
        first_output = record["points"][0]["output_tokens"]
        points = sorted((p for p in record["points"] if p["output_tokens"] == first_output),
                        key=lambda p: p["prompt_tokens"])  # fmt: skip
        lengths = [p["prompt_tokens"] for p in points]
        ttft_ax.plot(lengths, [p["ttft_ms"] for p in points], marker="o", label=record["label"])
        tpot_ax.plot(lengths, [p["tpot_ms"] for p in points], marker="o", label=record["label"])
    for ax, what in ((ttft_ax, "time to first token (ms)"), (tpot_ax, "time per output token (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("prompt tokens")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    return [Plot("TTFT and TPOT per prompt length", png(fig))]
