"""Time one set of compile properties on a static-shape model: throughput, and its outputs for the guard.

Measurement only (which candidates to try and which wins is ovtool.tuning's business).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ovtool.backends.openvino import ov_bench
from ovtool.backends.openvino.bench_inputs import random_inputs, resolve_shapes, vocab_size


def default_shapes(model: Any) -> dict[str, list[int]]:
    """Batch 1 and 128 for every other dynamic dimension (a sequence length or an image side)."""
    shapes = {}
    for port in model.inputs:
        partial = port.get_partial_shape()
        rank = partial.rank.get_length() if partial.rank.is_static else 2
        shapes[port.get_any_name()] = [
            partial[i].get_length() if partial.rank.is_static and partial[i].is_static else (1 if i == 0 else 128)
            for i in range(rank)
        ]
    return shapes


def probe_input(xml: Path, shapes: Any = None, seed: int = 0) -> dict[str, Any]:
    """One fixed random batch: `shapes` as `benchmark --shape` takes them, else `default_shapes`."""
    model, resolved = ov_bench.read_and_reshape(xml, lambda m: resolve_shapes(m, shapes or default_shapes(m)))
    return random_inputs(model, resolved, vocab_size(xml.parent) or 1000, seed)


class StaticTimer:
    """A compiled model with `config`, its outputs for `batch`, warmed; `sample()` times a short async slice."""

    def __init__(self, xml: Path, device: str, config: dict[str, Any], batch: dict[str, Any], goal: str,
                 slice_s: float = 0.25):  # fmt: skip
        model, _ = ov_bench.read_and_reshape(xml, lambda m: {k: list(v.shape) for k, v in batch.items()})
        self.target = ov_bench.compile_model(model, device, config, None)
        request = self.target.compiled.create_infer_request()
        request.infer(batch)
        self.outputs = [request.get_tensor(port).data.copy() for port in self.target.compiled.outputs]
        ov_bench.prepare(self.target, [batch])
        ov_bench.warm_up(self.target, self.target.nireq)
        self.goal, self.slice_s = goal, slice_s
        self.fps: list[float] = []
        self.latency_ms: list[float] = []

    def sample(self) -> float:
        """ms per inference (goal throughput: 1000 / FPS with every request busy) or median latency (ms)."""
        stats = ov_bench.run_async(self.target, self.slice_s, None)
        fps = stats.iterations / stats.seconds if stats.seconds else 0.0
        latency = statistics.median(stats.latencies_ms) if stats.latencies_ms else 0.0
        self.fps.append(fps)
        self.latency_ms.append(latency)
        return latency if self.goal == "latency" else (1000.0 / fps if fps else 0.0)

    def close(self) -> None:
        self.target.queue = None
