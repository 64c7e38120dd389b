"""What a quantize run reports: metrics, gate values, tables and the summary line, from what was measured.

Kept apart from the stage so the stage reads as the steps it takes (load, compress, measure) and this
module as what the user sees in run.json and report.md. What was measured travels here as dataclasses
(not dicts read back by key) and is serialised once, by `fill_report`, into `details` in the shape
run.json has always had.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ovtool.recipe.sections.quantize import QuantizeSection
from ovtool.results import Metric, StageResult, Table

if TYPE_CHECKING:
    from ovtool.backends.nncf.nncf_ptq import LayerRange
    from ovtool.backends.openvino.quality import GenerationAgreement, OutputComparison


@dataclass
class Throughput:
    """One IR's throughput in the side-by-side run (quality.throughput_pair)."""

    fps: float
    precision: str
    requests: int

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Throughput:
        return cls(fps=raw["fps"], precision=raw["precision"], requests=raw["requests"])


@dataclass
class SpeedComparison:
    """Throughput of both IRs at the device default, and of the original at f32 where that default is not f32."""

    original: Throughput
    compressed: Throughput
    original_f32: Throughput | None = None


@dataclass
class TokenRates:
    """Greedy-decode tokens/s of both IRs, each at the precision `ovtool generate` picks for it."""

    original: float
    compressed: float
    precisions: tuple[str, str]


@dataclass
class LlmQuality:
    """An LLM's quality cost: held-out perplexity, greedy-generation agreement, tokens/s."""

    perplexity_original: float
    perplexity_compressed: float
    generation: GenerationAgreement | None = None
    tokens_per_s: TokenRates | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"perplexity_original": self.perplexity_original,
                                "perplexity_compressed": self.perplexity_compressed}  # fmt: skip
        if self.generation is not None:
            data["generation"] = asdict(self.generation)
        if self.tokens_per_s is not None:
            data["tokens_per_s_original"] = self.tokens_per_s.original
            data["tokens_per_s_compressed"] = self.tokens_per_s.compressed
            data["tokens_per_s_precisions"] = list(self.tokens_per_s.precisions)
        return data


@dataclass
class OutputQuality:
    """Any other model's quality cost: similarity of outputs (and accuracy with labels), throughput."""

    outputs: OutputComparison
    speed: SpeedComparison | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"outputs": asdict(self.outputs)}
        if self.speed is not None:
            data["speed_original"] = asdict(self.speed.original)
            data["speed_compressed"] = asdict(self.speed.compressed)
            if self.speed.original_f32 is not None:
                data["speed_original_f32"] = asdict(self.speed.original_f32)
        return data


Quality = LlmQuality | OutputQuality


@dataclass
class CompressionFacts:
    """How NNCF was run: the method, layers kept in float by `ignored_scope.auto`, reverted by accuracy control."""

    method: str
    auto_ignored: list[LayerRange] | None = None
    activation_range_median: float | None = None
    reverted_to_float: list[str] | None = None
    accuracy_control_met: bool | None = None  # NNCF reached max_drop (False: it returned the INT8 model as is)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method}
        if self.auto_ignored is not None:
            data["auto_ignored"] = [{"name": r.name, "type": r.type, "min": r.low, "max": r.high, "range": r.width}
                                    for r in self.auto_ignored]  # fmt: skip
            data["activation_range_median"] = self.activation_range_median
        if self.reverted_to_float is not None:
            data["reverted_to_float"] = self.reverted_to_float
        if self.accuracy_control_met is not None:
            data["accuracy_control_met"] = self.accuracy_control_met
        return data


@dataclass
class SampleSummary:
    """What the report says about a sample set (its size and where it came from), without the samples."""

    count: int
    info: dict[str, Any]

    def __len__(self) -> int:
        return self.count

    @classmethod
    def of(cls, sset: Any) -> SampleSummary | None:
        return None if sset is None else cls(len(sset), {k: v for k, v in sset.info.items() if k != "token_chunks"})


@dataclass
class Produced:
    """What compressing made besides the IR: kept in the stage cache with it, so it holds no paths.

    `io` (the model's inputs) and `held` (held-out samples, loaded with the calibration data) go on to
    `measure` in the same run but are not stored: a cache hit loads them again with the same seed.
    """

    facts: CompressionFacts
    before: dict[str, Any]  # describe_ir of the original IR
    after: dict[str, Any]  # describe_ir of the compressed IR
    calib: SampleSummary | None
    warnings: list[str]
    io: Any = None
    held: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "io": None, "held": None}


@dataclass
class QuantizeOutcome:
    """Everything the quantize stage did and measured, for `fill_report`."""

    io: Any  # ovtool.data.calibration's description of the model's inputs (kind, folder)
    calib: Any  # the calibration sample set (or its SampleSummary), or None (data-free weight compression)
    held: Any  # the held-out sample set the quality was measured on
    facts: CompressionFacts
    quality: Quality
    before: dict[str, Any]  # describe_ir of the original IR
    after: dict[str, Any]  # describe_ir of the compressed IR


def fill_report(result: StageResult, section: QuantizeSection, done: QuantizeOutcome) -> None:
    """Metrics, gate values, tables and the summary line from what was measured; `details` serialised here."""
    before, after, held = done.before, done.after, done.held
    m = result.metrics
    m["size_original_mb"] = Metric(round(before["size_bytes"] / 2**20, 2), "MiB", "original IR (.xml + .bin)")
    m["size_compressed_mb"] = Metric(round(after["size_bytes"] / 2**20, 2), "MiB", "compressed IR (.xml + .bin)")
    m["size_ratio"] = Metric(round(after["size_bytes"] / before["size_bytes"], 4), "x", "compressed / original size")
    headline: list[str] = []
    rows: list[list[Any]] = []
    if isinstance(done.quality, LlmQuality):
        _llm_report(result, done.quality, len(held), headline, rows)
    else:
        _output_report(result, done.quality, len(held), section.quality.speed_baseline, headline, rows)
    result.tables.append(Table("Quality on held-out samples", ["metric", "original", "compressed", "change"], rows))
    result.tables.append(_precision_table(before, after))
    facts = done.facts
    if facts.auto_ignored:
        result.tables.append(Table("Kept in float: widest activation ranges (ignored_scope.auto)",
                                   ["layer", "type", "min", "max", "range"],
                                   [[r.name, r.type, round(r.low, 3), round(r.high, 3), round(r.width, 3)]
                                    for r in facts.auto_ignored]))  # fmt: skip
    if facts.reverted_to_float is not None:
        result.tables.append(Table("Reverted to float by accuracy control", ["operation"],
                                   [[n] for n in facts.reverted_to_float] or [["(none)"]]))  # fmt: skip
    if facts.accuracy_control_met is False:
        control = section.accuracy_control
        bound = f"{control.max_drop} ({control.drop_type})" if control is not None else "max_drop"
        result.warnings.append(f"accuracy control could not reach max_drop {bound} within its iterations: NNCF "
                               "returned the fully quantized model (raise max_drop or max_num_iterations)")
    data_rows = []
    for role, sset in (("calibration", done.calib), ("held-out evaluation", held)):
        if sset is not None:
            info = sset.info
            data_rows.append([role, info.get("path") or "synthetic", info.get("format") or "-",
                              info.get("split") or "-", info.get("samples"), bool(info.get("synthetic"))])  # fmt: skip
    result.tables.append(Table("Data", ["role", "source", "format", "split", "samples", "synthetic"], data_rows))
    synthetic = any(s is not None and s.info.get("synthetic") for s in (done.calib, held))
    if synthetic:
        result.warnings.append("synthetic (random) data was used as the recipe asked: quality figures are not "
                               "representative of real inputs")  # fmt: skip
    result.details |= {
        "quality": done.quality.as_dict(),
        **facts.as_dict(),
        "model_kind": done.io.kind,
        "synthetic_data": synthetic,
        "calibration": _info(done.calib),
        "evaluation": _info(held),
        "original_ir": {k: before[k] for k in ("weight_precisions", "size_bytes")},
        "compressed_ir": {k: after[k] for k in ("weight_precisions", "size_bytes", "inputs", "outputs")},
    }
    what = section.weights.mode if section.weights is not None else f"{section.mode} PTQ"
    result.summary = f"quantized ({what}): " + ", ".join(headline) + f", size {after['size_bytes'] / 2**20:.1f} MiB"


def _llm_report(result: StageResult, q: LlmQuality, samples: int, headline: list[str],
                rows: list[list[Any]]) -> None:  # fmt: skip
    """Perplexity, generation agreement and tokens/s of an LLM."""
    m = result.metrics
    p0, p1 = q.perplexity_original, q.perplexity_compressed
    inc = (p1 / p0 - 1) * 100
    m["perplexity_original"] = Metric(round(p0, 4), "ppl", f"{samples} held-out chunks, f32")
    m["perplexity_compressed"] = Metric(round(p1, 4), "ppl", f"{samples} held-out chunks, f32")
    m["perplexity_increase_pct"] = Metric(round(inc, 3), "%", "compressed vs original perplexity")
    result.gate_values["perplexity_increase_pct"] = inc
    rows.append(["perplexity (held-out)", round(p0, 3), round(p1, 3), f"{inc:+.2f}%"])
    headline.append(f"perplexity {p0:.2f} → {p1:.2f} ({inc:+.1f}%)")
    gen = q.generation
    if gen is not None:
        m["token_match_rate"] = Metric(round(gen.token_match_rate, 4), "ratio",
                                       "greedy tokens equal to the original's, position by position")  # fmt: skip
        rows.append(["greedy token match rate", 1.0, round(gen.token_match_rate, 4), ""])
        if gen.embedding_similarity is not None:
            m["generation_similarity"] = Metric(round(gen.embedding_similarity, 4), "cosine",
                                                "sentence-embedding similarity of the answers")  # fmt: skip
            result.gate_values["similarity"] = gen.embedding_similarity
            rows.append(["answer embedding similarity", 1.0, round(gen.embedding_similarity, 4), ""])
        result.tables.append(Table("Greedy generations (first prompts)", ["prompt", "original", "compressed"],
                                   [[_cell(e["prompt"]), _cell(e["original"]), _cell(e["compressed"])]
                                    for e in gen.examples]))  # fmt: skip
    rates = q.tokens_per_s
    if rates is not None:
        t0, t1 = rates.original, rates.compressed
        d0, d1 = rates.precisions
        m["tokens_per_s_original"] = Metric(round(t0, 2), "tokens/s", f"greedy decode, {d0} precision")
        m["tokens_per_s_compressed"] = Metric(round(t1, 2), "tokens/s", f"greedy decode, {d1} precision")
        m["speedup"] = Metric(round(t1 / t0, 3), "x", "tokens/s compressed / original (same run)")
        result.gate_values["speedup"] = t1 / t0
        headline.append(f"{t1 / t0:.2f}x tokens/s")


def _output_report(result: StageResult, q: OutputQuality, samples: int, baseline: str, headline: list[str],
                   rows: list[list[Any]]) -> None:  # fmt: skip
    """Output similarity, accuracy/F1 where the data has labels, and throughput of any non-LLM model."""
    m = result.metrics
    out = q.outputs
    m["output_similarity"] = Metric(round(out.similarity_mean, 5), "cosine",
                                    f"mean over {samples} held-out samples, f32")  # fmt: skip
    m["output_similarity_min"] = Metric(round(out.similarity_min, 5), "cosine", "worst held-out sample")
    result.gate_values["similarity"] = out.similarity_mean
    rows.append(["output cosine similarity (mean)", 1.0, round(out.similarity_mean, 5), ""])
    if out.accuracy_original is not None:
        # compare_outputs sets accuracy and F1 of both models together, from the labels
        assert out.accuracy_compressed is not None and out.f1_original is not None and out.f1_compressed is not None
        a0, a1 = out.accuracy_original * 100, out.accuracy_compressed * 100
        f0, f1 = out.f1_original, out.f1_compressed
        m["accuracy_original"] = Metric(round(a0, 3), "%", f"{samples} held-out samples, f32")
        m["accuracy_compressed"] = Metric(round(a1, 3), "%", f"{samples} held-out samples, f32")
        m["accuracy_drop"] = Metric(round(a0 - a1, 3), "points", "original - compressed accuracy")
        m["f1_compressed"] = Metric(round(f1, 4), "macro F1", "held-out samples")
        result.gate_values["accuracy_drop"] = a0 - a1
        rows.append(["accuracy %", round(a0, 2), round(a1, 2), f"{a1 - a0:+.2f} points"])
        rows.append(["macro F1", round(f0, 4), round(f1, 4), ""])
        headline.append(f"accuracy {a0:.1f}% → {a1:.1f}%")
    else:
        headline.append(f"output similarity {out.similarity_mean:.4f}")
    if q.speed is not None:
        _speed_metrics(result, q.speed, baseline, headline, rows)


def _speed_metrics(result: StageResult, speed: SpeedComparison, baseline: str, headline: list[str],
                   rows: list[list[Any]]) -> None:  # fmt: skip
    """Throughput of the compressed IR against the original at the default precision and, where that is not
    f32, at f32 too: on CPUs with AMX/AVX512-BF16 the fp IR runs bf16 by default, nearly as fast as INT8."""
    m = result.metrics
    s0, s1, f32 = speed.original, speed.compressed, speed.original_f32
    m["throughput_original"] = Metric(round(s0.fps, 2), "inferences/s", f"{s0.precision}, THROUGHPUT")
    m["throughput_compressed"] = Metric(round(s1.fps, 2), "inferences/s", f"{s1.precision}, THROUGHPUT")
    m["speedup_vs_default"] = Metric(round(s1.fps / s0.fps, 3), "x",
                                     f"compressed / original, both at the default ({s0.precision})")  # fmt: skip
    rows.append([f"throughput, inferences/s ({s0.precision})", round(s0.fps, 1), round(s1.fps, 1),
                 f"{s1.fps / s0.fps:.2f}x"])  # fmt: skip
    base = s0
    if f32 is not None:
        m["throughput_original_f32"] = Metric(round(f32.fps, 2), "inferences/s", "original at f32, THROUGHPUT")
        m["speedup_vs_f32"] = Metric(round(s1.fps / f32.fps, 3), "x",
                                     f"compressed ({s1.precision}) / original executed in f32")  # fmt: skip
        rows.append(["throughput, inferences/s (original at f32)", round(f32.fps, 1), round(s1.fps, 1),
                     f"{s1.fps / f32.fps:.2f}x"])  # fmt: skip
        if baseline == "f32":
            base = f32
    speedup = s1.fps / base.fps
    m["speedup"] = Metric(round(speedup, 3), "x", f"throughput compressed / original at {base.precision} "
                          "(quality.speed_baseline; gate min_speedup)")  # fmt: skip
    result.gate_values["speedup"] = speedup
    others = "" if f32 is None else f" ({s1.fps / s0.fps:.2f}x vs {s0.precision}, " \
        f"{s1.fps / f32.fps:.2f}x vs f32)"  # fmt: skip
    headline.append(f"{speedup:.2f}x throughput{others}")


def _cell(text: str) -> str:
    """Generated text on one table row (line breaks shown as ⏎, pipes escaped)."""
    return text.replace("\n", " ⏎ ").replace("|", "\\|").strip()


def _info(sset: Any) -> dict[str, Any] | None:
    if sset is None:
        return None
    return {k: v for k, v in sset.info.items() if k != "token_chunks"}


def _precision_table(before: dict[str, Any], after: dict[str, Any]) -> Table:
    kinds = list(dict.fromkeys([*after["weight_precisions"], *before["weight_precisions"]]))
    total_b = max(before["weight_elements"], 1)
    total_a = max(after["weight_elements"], 1)
    rows = [[k, f"{before['weight_precisions'].get(k, 0) / total_b:.1%}",
             f"{after['weight_precisions'].get(k, 0) / total_a:.1%}"] for k in kinds]  # fmt: skip
    return Table("Weight precisions (share of weight elements)", ["element type", "original", "compressed"], rows)
