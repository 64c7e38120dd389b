"""Every benchmarked model against the first one (the baseline of every ratio), and the regression headline."""

from __future__ import annotations

from ovtool.stages.benchmark_records import LLMRatios, LLMRecord, StaticRatios, StaticRecord, TorchRecord
from ovtool.stats import ratio


def add_static_ratios(records: list[StaticRecord], pytorch: TorchRecord | None) -> None:
    """speedup (throughput), latency ratio (p50) and compression rate (size) against the first model."""
    base = records[0]
    for record in [*records, *([pytorch] if pytorch else [])]:
        record.ratios = StaticRatios(
            speedup=ratio(record.throughput_inferences_per_s, base.throughput_inferences_per_s),
            latency_ratio=ratio(record.latency_ms.p50, base.latency_ms.p50),
            compression_rate=ratio(base.size_mb, record.size_mb),
            output_size_ratio=_size_ratio(record.output_bytes, base.output_bytes)
            if isinstance(record, StaticRecord)
            else None,
        )


def _size_ratio(value: int, base: int) -> float | None:
    """value / base to 4 significant digits (120 bytes of top-k against 25 MB of logits is 4.768e-06, not 0)."""
    return float(f"{value / base:.4g}") if base else None


def add_llm_ratios(records: list[LLMRecord]) -> None:
    """speedup (generation tokens/s), TTFT and TPOT ratios and compression rate against the first model."""
    base = records[0]
    for record in records:
        record.ratios = LLMRatios(
            speedup=ratio(record.generation_tokens_per_s, base.generation_tokens_per_s),
            ttft_ratio=ratio(record.ttft_ms_longest_prompt, base.ttft_ms_longest_prompt),
            tpot_ratio=ratio(record.tpot_ms, base.tpot_ms),
            compression_rate=ratio(base.size_mb, record.size_mb),
        )


def headline(record: StaticRecord | LLMRecord) -> float:
    """The one speed figure a regression is measured on: inferences/s or generation tokens/s."""
    if isinstance(record, LLMRecord):
        return record.generation_tokens_per_s
    return record.throughput_inferences_per_s
