"""What the benchmark measured, as typed records: one per model, built from the backends' timed targets.

The stage computes tables, ratios, gates and report.csv from these attributes; `ovtool/report.py`
turns them into run.json once (through `as_dict()`, whose keys are the run.json field names).
The first record is the baseline of every ratio.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovtool.ir_folder import IRFolder
from ovtool.stats import summarize_ms

if TYPE_CHECKING:
    from ovtool.backends.genai.llm_bench import LLMPoint, LLMTarget
    from ovtool.backends.openvino.bench_static import StaticTarget
    from ovtool.backends.torch.bench_torch import TorchTarget


@dataclass
class ModelSpec:
    """A model to measure: its label, where it came from, its IR and what kind of run it needs."""

    label: str
    source: str
    xml: Path
    ir: dict[str, Any]
    kind: str


@dataclass
class IRFacts:
    """The IR on disk a record measured: where it came from, its size, weight mix and hashes."""

    source: str
    ir_size_mb: float
    weight_precisions: dict[str, int]
    ir_sha256: dict[str, str]

    @classmethod
    def of(cls, spec: ModelSpec) -> IRFacts:
        """The hashes come through the cache's hash index (as the tuning store's do): reading a 260 MB IR
        again on every benchmark cost ~0.2-0.4 s (issue #14); an unusable index reads the files."""
        from ovtool.cache import HashIndex, cache_root

        index = HashIndex(cache_root())
        return cls(
            source=spec.source,
            ir_size_mb=round(spec.ir["size_bytes"] / 2**20, 3),
            weight_precisions=spec.ir["weight_precisions"],
            ir_sha256={p.name: index.file_hash(p) for p in (spec.xml, spec.xml.with_suffix(".bin")) if p.exists()},
        )


@dataclass
class Latency:
    """min/mean/percentiles/max of per-inference latencies, in ms (numpy's linear interpolation)."""

    min: float = 0.0
    mean: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    samples: int = 0

    @classmethod
    def of(cls, samples_ms: list[float]) -> Latency:
        return cls(**summarize_ms(samples_ms), samples=len(samples_ms))

    def as_dict(self) -> dict[str, float]:
        """run.json's form: {} when nothing was measured (no made-up zeros)."""
        if not self.samples:
            return {}
        return {"min": self.min, "mean": self.mean, "p50": self.p50, "p90": self.p90, "p99": self.p99,
                "max": self.max}  # fmt: skip


@dataclass
class StaticRatios:
    """Against the first model: throughput speedup, p50 latency ratio, size compression rate, and the
    output size ratio (this model's output bytes per inference / the first's: below 1 = less data out)."""

    speedup: float | None = None
    latency_ratio: float | None = None
    compression_rate: float | None = None
    output_size_ratio: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass
class LLMRatios:
    """Against the first model: generation tokens/s speedup, TTFT and TPOT ratios, compression rate."""

    speedup: float | None = None
    ttft_ratio: float | None = None
    tpot_ratio: float | None = None
    compression_rate: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass
class ProfileOp:
    """One operation of the per-layer profile: mean time per inference and share of the total."""

    node: str
    type: str
    exec_type: str
    time_us: float
    share: float


@dataclass
class OutputPort:
    """One output as compiled for the benchmark's input shape: what the application receives per inference."""

    name: str
    shape: list[int]
    type: str
    bytes: int


@dataclass
class StaticRecord:
    """One OpenVINO model measured with async inference."""

    label: str
    xml: str
    precision: str
    input_shapes: dict[str, list[int]]
    input_data: str
    batch: int
    infer_requests: int
    compiled_properties: dict[str, Any]
    iterations: int
    measured_s: float
    throughput_inferences_per_s: float
    throughput_items_per_s: float
    latency_ms: Latency
    first_inference_ms: float
    compile_ms: float
    rss_added_mb: float
    ir: IRFacts
    outputs: list[OutputPort] = field(default_factory=list)
    precision_choice: dict[str, Any] = field(default_factory=dict)
    profile_top_ops: list[ProfileOp] | None = None
    execution_graph: str | None = None
    ratios: StaticRatios = field(default_factory=StaticRatios)
    kind: str = "static"

    @classmethod
    def of(cls, target: StaticTarget, spec: ModelSpec, precision_choice: dict[str, Any] | None = None
           ) -> StaticRecord:  # fmt: skip
        throughput = target.throughput()
        return cls(
            label=target.label,
            xml=str(target.xml),
            precision=target.compiled.precision,
            input_shapes=target.shapes,
            input_data=target.input_data,
            batch=target.batch,
            infer_requests=target.compiled.nireq,
            compiled_properties=target.compiled.properties,
            iterations=target.stats.iterations,
            measured_s=round(target.stats.seconds, 3),
            throughput_inferences_per_s=round(throughput, 3),
            throughput_items_per_s=round(throughput * target.batch, 3),
            latency_ms=Latency.of(target.stats.latencies_ms),
            first_inference_ms=round(target.first_inference_ms, 3),
            compile_ms=round(target.compiled.compile_s * 1000, 3),
            rss_added_mb=round(target.rss_added_bytes / 2**20, 1),
            ir=IRFacts.of(spec),
            outputs=[OutputPort(**port) for port in target.outputs],
            precision_choice=precision_choice or {},
            profile_top_ops=None if target.profile is None else [ProfileOp(**op) for op in target.profile],
            execution_graph=target.profile_graph,
        )

    @property
    def streams(self) -> Any:
        return self.compiled_properties.get("NUM_STREAMS")

    @property
    def threads(self) -> Any:
        return self.compiled_properties.get("INFERENCE_NUM_THREADS")

    @property
    def size_mb(self) -> float:
        return self.ir.ir_size_mb

    @property
    def output_bytes(self) -> int:
        """Bytes of all outputs per inference (batch included)."""
        return sum(port.bytes for port in self.outputs)

    @property
    def startup_ms(self) -> float:
        """Compile time (the PyTorch record's counterpart is its load time)."""
        return self.compile_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "kind": self.kind, "xml": self.xml, "precision": self.precision,
            "input_shapes": self.input_shapes, "input_data": self.input_data, "batch": self.batch,
            "infer_requests": self.infer_requests, "streams": self.streams, "threads": self.threads,
            "compiled_properties": self.compiled_properties, "iterations": self.iterations,
            "measured_s": self.measured_s, "throughput_inferences_per_s": self.throughput_inferences_per_s,
            "throughput_items_per_s": self.throughput_items_per_s, "latency_ms": self.latency_ms.as_dict(),
            "first_inference_ms": self.first_inference_ms, "compile_ms": self.compile_ms,
            "rss_added_mb": self.rss_added_mb, "outputs": [asdict(o) for o in self.outputs],
            "output_bytes": self.output_bytes, "precision_choice": self.precision_choice,
            "profile_top_ops": None if self.profile_top_ops is None else [asdict(o) for o in self.profile_top_ops],
            "execution_graph": self.execution_graph, **asdict(self.ir), "ratios": self.ratios.as_dict(),
        }  # fmt: skip


@dataclass
class TorchRecord:
    """The PyTorch eager baseline, measured on the same inputs (one synchronous call at a time)."""

    label: str
    folder: str
    precision: str
    torch_threads: int
    batch: int
    iterations: int
    measured_s: float
    throughput_inferences_per_s: float
    throughput_items_per_s: float
    latency_ms: Latency
    load_ms: float
    rss_added_mb: float
    size_mb: float
    ratios: StaticRatios = field(default_factory=StaticRatios)
    kind: str = "pytorch"

    @classmethod
    def of(cls, target: TorchTarget) -> TorchRecord:
        throughput = target.iterations / target.seconds if target.seconds else 0.0
        return cls(
            label=target.label,
            folder=str(target.folder),
            precision=target.dtype,
            torch_threads=target.threads,
            batch=target.batch,
            iterations=target.iterations,
            measured_s=round(target.seconds, 3),
            throughput_inferences_per_s=round(throughput, 3),
            throughput_items_per_s=round(throughput * target.batch, 3),
            latency_ms=Latency.of(target.latencies_ms),
            load_ms=round(target.load_s * 1000, 3),
            rss_added_mb=round(target.rss_added_bytes / 2**20, 1),
            size_mb=round(target.size_bytes() / 2**20, 3),
        )

    @property
    def startup_ms(self) -> float:
        return self.load_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "kind": self.kind, "folder": self.folder, "precision": self.precision,
            "torch_threads": self.torch_threads, "batch": self.batch, "iterations": self.iterations,
            "measured_s": self.measured_s, "throughput_inferences_per_s": self.throughput_inferences_per_s,
            "throughput_items_per_s": self.throughput_items_per_s, "latency_ms": self.latency_ms.as_dict(),
            "load_ms": self.load_ms, "rss_added_mb": self.rss_added_mb, "size_mb": self.size_mb,
            "ratios": self.ratios.as_dict(),
        }  # fmt: skip


# A row of the static tables: an OpenVINO model or the PyTorch baseline.
TimedRecord = StaticRecord | TorchRecord


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 3) if values else 0.0


@dataclass
class LLMPointRecord:
    """All runs of one (prompt length, output length) pair, summarised."""

    prompt_tokens: int
    output_tokens: int
    runs: int
    ttft_ms: float
    ttft_ms_runs: list[float]
    tpot_ms: float
    tpot_p90_ms: float
    tpot_ms_distribution: Latency
    generation_tokens_per_s: float
    generation_tokens_per_s_runs: list[float]
    end_to_end_tokens_per_s: float
    generate_ms: float

    @classmethod
    def of(cls, point: LLMPoint) -> LLMPointRecord:
        tokens = Latency.of(point.token_ms)
        seconds = sum(point.generate_ms) / 1000
        return cls(
            prompt_tokens=point.prompt_tokens,
            output_tokens=point.output_tokens,
            runs=len(point.ttft_ms),
            ttft_ms=_mean(point.ttft_ms),
            ttft_ms_runs=[round(v, 3) for v in point.ttft_ms],
            tpot_ms=_mean(point.tpot_ms),
            tpot_p90_ms=tokens.p90,
            tpot_ms_distribution=tokens,
            generation_tokens_per_s=_mean(point.tokens_per_s),
            generation_tokens_per_s_runs=[round(v, 3) for v in point.tokens_per_s],
            end_to_end_tokens_per_s=round(sum(point.generated) / seconds, 3) if point.generate_ms else 0.0,
            generate_ms=_mean(point.generate_ms),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"tpot_ms_distribution": self.tpot_ms_distribution.as_dict()}


@dataclass
class LLMRecord:
    """One LLM pipeline measured with openvino_genai; headline figures over all its points."""

    label: str
    xml: str
    precision: str
    pipeline_load_ms: float
    rss_added_mb: float
    points: list[LLMPointRecord]
    generation_tokens_per_s: float  # mean over prompt/output lengths
    ttft_ms_longest_prompt: float
    tpot_ms: float  # mean over prompt/output lengths
    ir: IRFacts
    ratios: LLMRatios = field(default_factory=LLMRatios)
    kind: str = "llm"
    precision_choice: dict[str, Any] = field(default_factory=dict)  # settings + source, as generate records

    @classmethod
    def of(cls, target: LLMTarget, spec: ModelSpec, precision_choice: dict[str, Any] | None = None) -> LLMRecord:
        points = [LLMPointRecord.of(p) for p in target.points.values()]
        longest = max(p.prompt_tokens for p in points)
        return cls(
            label=target.label,
            xml=str(IRFolder.at(target.folder).xml),
            precision=target.precision,
            pipeline_load_ms=round(target.load_s * 1000, 3),
            rss_added_mb=round(target.rss_added_bytes / 2**20, 1),
            points=points,
            generation_tokens_per_s=round(sum(p.generation_tokens_per_s for p in points) / len(points), 3),
            ttft_ms_longest_prompt=max(p.ttft_ms for p in points if p.prompt_tokens == longest),
            tpot_ms=round(sum(p.tpot_ms for p in points) / len(points), 3),
            ir=IRFacts.of(spec),
            precision_choice=precision_choice or {},
        )

    @property
    def size_mb(self) -> float:
        return self.ir.ir_size_mb

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "kind": self.kind, "xml": self.xml, "precision": self.precision,
            "pipeline_load_ms": self.pipeline_load_ms, "rss_added_mb": self.rss_added_mb,
            "points": [p.as_dict() for p in self.points],
            "generation_tokens_per_s": self.generation_tokens_per_s,
            "ttft_ms_longest_prompt": self.ttft_ms_longest_prompt, "tpot_ms": self.tpot_ms,
            **asdict(self.ir), "ratios": self.ratios.as_dict(), "precision_choice": self.precision_choice,
        }  # fmt: skip
