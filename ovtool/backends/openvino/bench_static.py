"""Static models side by side: load each, then measure them interleaved, then summarize.

Interleaving (A, B, A, B …) spreads background noise (other processes, thermal state) evenly over
the models, so their ratios stay honest on a busy machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ovtool.backends.openvino import ov_bench
from ovtool.backends.openvino.bench_inputs import FALLBACK_VOCAB, random_inputs, resolve_shapes, text_inputs, vocab_size
from ovtool.measure import current_rss_bytes
from ovtool.recipe.sections.benchmark import BenchmarkSection


@dataclass
class StaticTarget:
    """One model being measured, and everything measured about it."""

    label: str
    xml: Path
    compiled: ov_bench.Compiled
    shapes: dict[str, list[int]]
    batch: int
    batches: list[dict[str, Any]]
    input_data: str
    config: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    first_inference_ms: float = 0.0
    rss_added_bytes: int = 0
    stats: ov_bench.RunStats = field(default_factory=ov_bench.RunStats)
    profile: list[dict[str, Any]] | None = None
    profile_graph: str | None = None

    def warm_up(self, count: int) -> None:
        ov_bench.warm_up(self.compiled, count)

    def run_part(self, seconds: float | None, iterations: int | None) -> None:
        """One share of the measured budget; latencies and time add up across shares."""
        part = ov_bench.run_async(self.compiled, seconds, iterations)
        self.stats.latencies_ms.extend(part.latencies_ms)
        self.stats.seconds += part.seconds
        self.stats.iterations += part.iterations

    def throughput(self) -> float:
        """Inferences per second over the measured runs."""
        return self.stats.iterations / self.stats.seconds if self.stats.seconds else 0.0


def load(label: str, xml: Path, section: BenchmarkSection, seed: int, texts: list[str] | None,
         properties: dict[str, Any] | None = None) -> StaticTarget:  # fmt: skip
    """Read, reshape to static shapes, compile, create requests with inputs, run the first inference.

    `properties`: compile properties the stage chose for this model (a stored tuning) on top of the
    section's; `benchmark.config` still wins over them.
    """
    rss_before = current_rss_bytes()
    model, shapes = ov_bench.read_and_reshape(xml, lambda m: resolve_shapes(m, section.shapes))
    first_shape = next(iter(shapes.values()))
    batch = first_shape[0] if first_shape else 1
    if texts is not None:
        batches = text_inputs(model, shapes, xml.parent, texts)
        input_data = f"{len(batches)} batches of real text ({section.data.path if section.data else ''})"
    else:
        vocab = vocab_size(xml.parent) or FALLBACK_VOCAB
        batches = [random_inputs(model, shapes, vocab, seed)]
        input_data = f"random (floats in [0, 1), token ids < {vocab}, masks of ones)"
    config = _config(section, properties or {})
    compiled = ov_bench.compile_model(model, section.device, config, section.infer_requests)
    target = StaticTarget(label, xml, compiled, shapes, batch, batches, input_data, config)
    target.first_inference_ms = ov_bench.prepare(compiled, batches)
    target.outputs = ov_bench.output_sizes(compiled)
    target.rss_added_bytes = max(current_rss_bytes() - rss_before, 0)
    return target


class Timed(Protocol):
    """What the interleaved loop needs from a model being timed (OpenVINO or PyTorch)."""

    label: str

    def warm_up(self, count: int) -> None: ...

    def run_part(self, seconds: float | None, iterations: int | None) -> None: ...


def measure_interleaved(targets: Sequence[Timed], section: BenchmarkSection) -> None:
    """Warm up each model, then `rounds` turns of each model's share of the budget, in turn.

    The order reverses every round (A B, B A, A B…): with a fixed order the model measured first
    in each round was the slower one in every side-by-side run (the switch from another model's
    working set costs the first few requests), which read as a speed difference between models.
    """
    for target in targets:
        target.warm_up(section.warmup)
    rounds = section.rounds if len(targets) > 1 else 1
    for index in range(rounds):
        seconds, iterations = _share(section, rounds, index)
        for target in round_order(targets, index):
            target.run_part(seconds, iterations)


def round_order(targets: Sequence[Timed], index: int) -> list[Timed]:
    """Round `index`'s order: as given on even rounds, reversed on odd ones."""
    return list(targets) if index % 2 == 0 else list(reversed(targets))


def _share(section: BenchmarkSection, rounds: int, index: int) -> tuple[float | None, int | None]:
    if section.iterations is not None:
        base, extra = divmod(section.iterations, rounds)
        return None, max(base + (1 if index < extra else 0), 1)
    return section.duration() / rounds, None


def run_profile(target: StaticTarget, section: BenchmarkSection, out_dir: Path, runs: int = 20) -> None:
    """Top operations by time, and the execution graph saved as OUT/profile/<label>.exec_graph.xml."""
    config = target.config
    graph = out_dir / f"{_safe(target.label)}.exec_graph.xml"
    ops = ov_bench.profile(target.compiled.model, section.device, config, target.batches[0], runs, graph)
    target.profile = ops[: section.top_ops]
    target.profile_graph = str(graph.relative_to(out_dir.parent))


def _config(section: BenchmarkSection, properties: dict[str, Any]) -> dict[str, Any]:
    return ov_bench.compile_config(
        section.static_hint(),
        section.streams,
        section.threads,
        None if section.precision == "auto" else section.precision,
        {**properties, **section.config},
    )


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def release(targets: list[StaticTarget]) -> None:
    """Drop request queues and compiled models (memory for the next stage)."""
    for target in targets:
        target.compiled.queue = None
        target.compiled.compiled = None
