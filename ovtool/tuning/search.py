"""Which settings to try, in what order, and the quality guard: a short coordinate search.

LLM IRs (openvino_genai): inference precision first (each the device supports; f32 is the quality
reference), then KV_CACHE_PRECISION on the winner, then DYNAMIC_QUANTIZATION_GROUP_SIZE when the winner
runs f32 activations (the only precision the CPU quantizes dynamically). Score: warm decode ms per token.
Guard: the greedy answer to the probe prompt equals the f32 answer.

Static IRs: precision first (LATENCY hint), then PERFORMANCE_HINT / NUM_STREAMS. Score: median request
latency (goal "latency") or 1000 / FPS with every request in flight (goal "throughput").
Guard: every output's cosine similarity to the f32 outputs ≥ 0.999.

Each candidate is timed interleaved with the incumbent (A B, B A…, both loaded) and scored as the
incumbent's time × their paired ratio: on a shared machine the load moves between seconds, and a ratio
taken in the same seconds cancels most of it (two loaded models: twice the memory while tuning).
Searching one axis at a time keeps the run to a handful of candidates (each a few seconds) instead of
their product; the axes interact little (KV precision and group size act on different operations).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ovtool.tuning.select import Row, select

PROBE_PROMPT = "Explain in three sentences why the sky is blue."
PROBE_TOKENS = 32
MIN_COSINE = 0.999
KV_CANDIDATES = ("u8", "f16")
GROUP_SIZES = (0, 32, 64, 128)


@dataclass
class Outcome:
    """The chosen settings and every row tried (by axis), for the table and the store."""

    kind: str  # "llm" or "static"
    settings: dict[str, Any]
    tried: list[tuple[str, Row, bool]] = field(default_factory=list)  # (axis, row, chosen)

    def table(self) -> list[dict[str, Any]]:
        return [{"axis": axis, "settings": row.settings, "ms": round(row.ms, 3), "quality_ok": row.quality_ok,
                 "quality": row.quality, "steady": row.steady, "chosen": chosen,
                 **{k: round(v, 3) for k, v in row.extra.items()}}
                for axis, row, chosen in self.tried]  # fmt: skip


Progress = Callable[[str], None]


class Timer(Protocol):
    """A loaded candidate (backends: LlmTimer, StaticTimer): one timed sample per call, lower is faster."""

    def sample(self) -> float: ...

    def close(self) -> None: ...


@dataclass
class Paired:
    """How candidates are built, judged and timed: interleaved with the incumbent, A B, B A…"""

    make: Callable[[dict[str, Any]], Timer]
    judge: Callable[[Timer], tuple[bool, str, dict[str, float]]]  # quality_ok, what the guard saw, extra figures
    seconds: float
    progress: Progress
    min_pairs: int = 2

    def first(self, settings: dict[str, Any]) -> tuple[Row, Timer]:
        """The reference: timed alone (it is every later ratio's denominator)."""
        self.progress(f"  {_label(settings)} …")
        timer = self.make(settings)
        samples = _run(lambda _: [timer.sample()], self.seconds, self.min_pairs)
        ok, quality, extra = self.judge(timer)
        return Row(dict(settings), statistics.median(s[0] for s in samples), ok, quality, extra=extra), timer

    def axis(self, outcome: Outcome, name: str, incumbent: tuple[Row, Timer],
             candidates: Sequence[dict[str, Any]]) -> tuple[Row, Timer]:  # fmt: skip
        """Each candidate against the incumbent in the same seconds; its ms is the incumbent's × the paired ratio."""
        base, base_timer = incumbent
        rows: list[Row] = [base]
        for settings in candidates:
            self.progress(f"  {_label(settings)} …")
            timer = self.make(settings)
            try:
                pairs = _run(lambda i, t=timer: _pair(base_timer, t, first_b=i % 2 == 1), self.seconds, self.min_pairs)
                ratio = statistics.median(b for _, b in pairs) / statistics.median(a for a, _ in pairs)
                steady = all(b < a for a, b in pairs)
                ok, quality, extra = self.judge(timer)
            finally:
                timer.close()
            rows.append(Row(dict(settings), base.ms * ratio, ok, quality, note=f"{ratio:.3f}x", steady=steady,
                            extra=extra))
        best = _axis(outcome, name, rows) or base
        if best is base:
            return base, base_timer
        base_timer.close()
        return best, self.make(best.settings)


def _axis(outcome: Outcome, axis: str, rows: Sequence[Row]) -> Row | None:
    best = select(rows)
    outcome.tried.extend((axis, row, row is best) for row in rows)
    return best


def _run(step: Callable[[int], list[float]], seconds: float, minimum: int) -> list[list[float]]:
    samples: list[list[float]] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < minimum or time.perf_counter() < deadline:
        samples.append(step(len(samples)))
    return samples


def _pair(a: Timer, b: Timer, *, first_b: bool) -> list[float]:
    """[a's sample, b's sample], taken in alternating order pair by pair (A B, B A…): neither always goes first."""
    if first_b:
        b_ms = b.sample()
        return [a.sample(), b_ms]
    a_ms = a.sample()
    return [a_ms, b.sample()]


def tune_llm(model_dir: Path, device: str, precisions: Sequence[str], defaults: dict[str, Any], seconds: float,
             progress: Progress) -> Outcome:  # fmt: skip
    """The coordinate search over an openvino_genai pipeline's properties (see the module doc)."""
    from ovtool.backends.genai.tune_llm import LlmTimer

    reference: list[str] = []

    def make(settings: dict[str, Any]) -> Timer:
        timer = LlmTimer(model_dir, device, settings, PROBE_PROMPT, PROBE_TOKENS)
        if not reference:  # the first timer built is the f32 reference
            reference.append(timer.text)
        return timer

    def judge(timer: Any) -> tuple[bool, str, dict[str, float]]:
        same = timer.text == reference[0]
        ttft = statistics.median(timer.ttft_ms) if timer.ttft_ms else 0.0
        return same, "same text as f32" if same else "text differs from f32", {"ttft_ms": ttft}

    paired = Paired(make, judge, seconds, progress)
    outcome = Outcome("llm", {})
    current = paired.first({"INFERENCE_PRECISION_HINT": "f32"})
    try:
        current = paired.axis(outcome, "precision", current,
                              [{"INFERENCE_PRECISION_HINT": p} for p in precisions if p != "f32"])  # fmt: skip
        kv_default = str(defaults.get("KV_CACHE_PRECISION", ""))
        settings = current[0].settings
        current = paired.axis(outcome, "kv cache", current,
                              [settings | {"KV_CACHE_PRECISION": kv} for kv in KV_CANDIDATES if kv != kv_default])
        settings = current[0].settings
        if settings["INFERENCE_PRECISION_HINT"] == "f32":
            gs_default = defaults.get("DYNAMIC_QUANTIZATION_GROUP_SIZE")
            current = paired.axis(outcome, "dynamic quantization", current,
                                  [settings | {"DYNAMIC_QUANTIZATION_GROUP_SIZE": gs}
                                   for gs in GROUP_SIZES if gs != gs_default])  # fmt: skip
    finally:
        current[1].close()
    outcome.settings = dict(current[0].settings)
    return outcome


def tune_static(xml: Path, device: str, precisions: Sequence[str], goal: str, seconds: float, shapes: Any,
                progress: Progress) -> Outcome:  # fmt: skip
    """The coordinate search over a static model's compile properties (see the module doc)."""
    from ovtool.backends.openvino.quality import cosine
    from ovtool.backends.openvino.tune_static import StaticTimer, probe_input

    batch = probe_input(xml, shapes)
    reference: list[Any] = []

    def make(settings: dict[str, Any]) -> Timer:
        timer = StaticTimer(xml, device, settings, batch, goal)
        if not reference:
            reference.extend(timer.outputs)
        return timer

    def judge(timer: Any) -> tuple[bool, str, dict[str, float]]:
        worst = min((cosine(a, b) for a, b in zip(reference, timer.outputs, strict=True)), default=1.0)
        extra = {"fps": statistics.median(timer.fps), "latency_ms": statistics.median(timer.latency_ms)}
        return worst >= MIN_COSINE, f"cosine {worst:.5f}", extra

    paired = Paired(make, judge, seconds, progress)
    outcome = Outcome("static", {})
    base = {"PERFORMANCE_HINT": "LATENCY"}
    current = paired.first(base | {"INFERENCE_PRECISION_HINT": "f32"})
    try:
        current = paired.axis(outcome, "precision", current,
                              [base | {"INFERENCE_PRECISION_HINT": p} for p in precisions if p != "f32"])
        precision = {"INFERENCE_PRECISION_HINT": current[0].settings["INFERENCE_PRECISION_HINT"]}
        streams = sorted({2, os.cpu_count() or 1} - {1})
        current = paired.axis(outcome, "hint / streams", current,
                              [precision | {"PERFORMANCE_HINT": "THROUGHPUT"},
                               *[precision | {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": n} for n in streams]])
    finally:
        current[1].close()
    outcome.settings = dict(current[0].settings)
    return outcome


def _label(settings: dict[str, Any]) -> str:
    return " ".join(f"{SHORT.get(k, k)}={v}" for k, v in settings.items())


SHORT = {"INFERENCE_PRECISION_HINT": "precision", "KV_CACHE_PRECISION": "kv", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "dq",
         "PERFORMANCE_HINT": "hint", "NUM_STREAMS": "streams"}  # fmt: skip
