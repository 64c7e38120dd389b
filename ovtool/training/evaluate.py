"""Measure an IR the way it ships: accuracy on the held-out split (f32) and throughput at a fixed length."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Speed:
    throughput: float  # inferences per second
    precision: str  # what the CPU plugin actually ran with
    requests: int
    seconds: float


def ir_accuracy(xml: Path, tokenizer: Any, texts: list[str], labels: list[int], max_length: int,
                batch_size: int = 32) -> float:  # fmt: skip
    """Top-1 accuracy of the IR's logits, compiled with INFERENCE_PRECISION_HINT=f32 (not bf16)."""
    import numpy as np
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(xml))
    names = {p.get_any_name() for p in model.inputs}
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    correct = 0
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start : start + batch_size], truncation=True, max_length=max_length,
                        padding="max_length", return_tensors="np")  # fmt: skip
        logits = compiled({k: v for k, v in enc.items() if k in names})[0]
        correct += int((np.argmax(logits, axis=-1) == np.asarray(labels[start : start + batch_size])).sum())
    return correct / max(len(texts), 1)


class ThroughputProbe:
    """One compiled IR (batch 1, `seq_len` tokens, PERFORMANCE_HINT=THROUGHPUT) with an async queue.

    Compiled once, run in several short rounds so two models can be measured interleaved (machine
    load then hits both alike). Precision is the plugin default (bf16 on CPUs with AMX/AVX512-BF16)
    and is reported as used.
    """

    def __init__(self, xml: Path, tokenizer: Any, text: str, seq_len: int) -> None:
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(xml))
        names = {p.get_any_name() for p in model.inputs}
        model.reshape({p.get_any_name(): [1, seq_len] for p in model.inputs})
        self.compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
        enc = tokenizer([text], truncation=True, max_length=seq_len, padding="max_length", return_tensors="np")
        self.feed = {k: v for k, v in enc.items() if k in names}
        self.queue = ov.AsyncInferQueue(self.compiled)
        self.done = 0
        self.queue.set_callback(self._count)
        for _ in range(2 * len(self.queue)):  # warm-up
            self.queue.start_async(self.feed)
        self.queue.wait_all()

    def _count(self, _request: Any, _data: Any) -> None:
        self.done += 1

    def run(self, seconds: float) -> float:
        """Inferences per second over about `seconds` (start_async blocks while every request is busy)."""
        self.done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.queue.start_async(self.feed)
        self.queue.wait_all()
        return self.done / (time.perf_counter() - start)

    @property
    def precision(self) -> str:
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return hint.to_string() if hasattr(hint, "to_string") else str(hint)


def compare_throughput(probes: list[ThroughputProbe], seconds: float, rounds: int = 3) -> list[Speed]:
    """Median throughput of each probe over `rounds` interleaved rounds of `seconds / rounds` each."""
    import statistics

    samples: list[list[float]] = [[] for _ in probes]
    for _ in range(rounds):
        for probe, bucket in zip(probes, samples, strict=True):
            bucket.append(probe.run(seconds / rounds))
    pairs = zip(probes, samples, strict=True)
    return [Speed(statistics.median(s), p.precision, len(p.queue), seconds) for p, s in pairs]


def ir_size_bytes(xml: Path) -> int:
    return xml.stat().st_size + xml.with_suffix(".bin").stat().st_size
