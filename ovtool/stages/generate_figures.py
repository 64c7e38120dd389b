"""The generate stage's speed figures, each named cold or warm with its definition (issue #14).

Cold = what a one-off user waits for (the first calls of a fresh pipeline: first inference, prefill and
one-time allocations included); warm = steady state (the decode rate from TPOT, what llm_bench and
optimum-intel report). docs/benchmark.md maps every figure to the names other tools use.
"""

from __future__ import annotations

from dataclasses import dataclass

from ovtool.backends.genai.genai import DecodeStats
from ovtool.results import Metric


@dataclass
class DecodePass:
    """One decoding pass (a pipeline loaded, prompts decoded): its stats and how it was loaded and warmed."""

    stats: DecodeStats
    chat_template_applied: bool
    peak_rss_bytes: int  # loading + decoding (a conversion before is not counted)
    load_s: float  # LLMPipeline construction: read + compile the IR
    warmed: bool  # a short generation ran before the measured calls (the figures are not cold)


# Which figure is which (run.json `details.speed_figures`, docs/benchmark.md maps them to other tools' names).
COLD_FIGURES = ("tokens_per_s", "generate_s", "ttft_ms")
WARM_FIGURES = ("decode_tokens_per_s", "tpot_ms")


def speed_metrics(run: DecodePass) -> dict[str, Metric]:
    """The speed figures of one decoding pass, each saying whether it is cold or warm and how it is computed.

    Cold = what a one-off user waits for: the first generate call of a fresh pipeline, its first inference,
    prefill and one-time allocations included. Warm = steady state: the decode rate from TPOT, which is
    what llm_bench and optimum-intel report as throughput. With a warm-up (speculative compare_plain) the
    wall-time figures are not cold, and their definitions say so.
    """
    stats = run.stats
    ttft = sum(stats.ttft_ms) / len(stats.ttft_ms)
    tpot = steady_tpot_ms(stats)
    prefill_s = sum(stats.ttft_ms) / 1000
    state = "after one warm-up generation" if run.warmed else "cold: the first calls of a fresh pipeline"
    return {
        "tokens_per_s": Metric(round(stats.tokens_per_s, 2), "tokens/s",
                               f"new tokens / wall time of the generate calls, prefill and first token "
                               f"included ({state})"),
        "generate_s": Metric(round(stats.wall_s, 3), "s", f"wall time of the generate calls ({state})"),
        "decode_tokens_per_s": Metric(round(1000 / tpot, 2) if tpot else 0.0, "tokens/s",
                                      "warm: steady-state decode rate of all sequences, 1000 / TPOT "
                                      "(llm_bench's 2nd tokens throughput)"),
        "tpot_ms": Metric(round(tpot, 2), "ms/token",
                          "warm: time per output token after the first (openvino_genai's TPOT; a batch's steps "
                          "divided by its size), mean over calls weighted by their new tokens"),
        "ttft_ms": Metric(round(ttft, 2), "ms",
                          f"time to first token: tokenize + prefill + first decode step, mean over calls ({state})"),
        "prefill_tokens_per_s": Metric(round(sum(stats.call_input_tokens) / prefill_s, 1) if prefill_s else 0.0,
                                       "tokens/s", f"prompt tokens / TTFT, summed over calls ({state})"),
        "load_s": Metric(round(run.load_s, 3), "s", "LLMPipeline construction: read and compile the IR and its "
                         "tokenizer IRs"),
    }  # fmt: skip


def steady_tpot_ms(stats: DecodeStats) -> float:
    """TPOT over all calls, each weighted by the tokens it made: a batch of 3 and a single prompt decode at
    different per-token times, and their plain mean would misstate the rate the tokens were made at."""
    weights = stats.call_generated if sum(stats.call_generated) else [1] * len(stats.tpot_ms)
    return sum(t * w for t, w in zip(stats.tpot_ms, weights, strict=True)) / sum(weights)
