"""The benchmark stage: one or more models measured side by side, the first one the baseline.

Static models (anything that is not a stateful LLM) run through OpenVINO async inference with
performance hints; stateful LLM IRs with tokenizer IRs run through openvino_genai. Non-IR sources
are converted first (into a temporary folder: the run publishes reports, not models).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.errors import UserError
from ovtool.recipe.schema import Recipe
from ovtool.recipe.sections.benchmark import INPUT_PLACEHOLDER, MODEL_PLACEHOLDER, BenchmarkSection
from ovtool.scratch import owned_tempdir
from ovtool.stages.context import Metric, StageContext, StageResult

NEEDS_MODEL = False  # models come from benchmark.models or the stage input; checked in preflight
NEEDS_OUTPUT = True
TOKENIZER_XMLS = ("openvino_tokenizer.xml", "openvino_detokenizer.xml")
DEFAULT_TEXT_SAMPLES = 64
PENDING = "<output of"


@dataclass
class ModelSpec:
    """A model to measure: its label, where it came from, its IR and what kind of run it needs."""

    label: str
    source: str
    xml: Path
    ir: dict[str, Any]
    kind: str


@contextlib.contextmanager
def timed_step(ctx: StageContext, name: str) -> Iterator[None]:
    """Like ctx.step, without its memory-sampling thread: it would steal CPU and the GIL from the run.

    A psutil sample costs ~7 ms here; every 50 ms that is ~15 % of a core, enough to lower the
    measured throughput on 2 cores. RSS is read before and after instead (inference allocates
    nothing new; the peak comes while compiling, which ctx.step measures).
    """
    from ovtool.measure import StepMeasurement, current_rss_bytes

    console.info(f"▸ {ctx.stage}: {name} …")
    before = current_rss_bytes()
    start = time.perf_counter()
    yield
    measurement = StepMeasurement(name, time.perf_counter() - start, max(before, current_rss_bytes()))
    ctx.steps.append(measurement)
    console.info(
        f"✓ {ctx.stage}: {name} ({measurement.seconds:.1f} s, peak {measurement.peak_rss_bytes / 2**20:.0f} MiB)"
    )


def _section(recipe: Recipe) -> BenchmarkSection:
    return recipe.benchmark or BenchmarkSection()


def model_sources(recipe: Recipe, ctx: StageContext) -> list[str]:
    """benchmark.models with placeholders resolved, else the stage input (or `model:`)."""
    section = _section(recipe)
    sources: list[str] = []
    for item in section.models or ([ctx.input_model] if ctx.input_model else []):
        if item == MODEL_PLACEHOLDER:
            if not recipe.model:
                raise UserError(f"benchmark.models uses {MODEL_PLACEHOLDER} but the recipe has no `model:`")
            item = recipe.model
        elif item == INPUT_PLACEHOLDER:
            if not ctx.input_model:
                raise UserError(f"benchmark.models uses {INPUT_PLACEHOLDER} but this stage has no input model")
            item = ctx.input_model
        sources.append(item)
    if not sources:
        raise UserError("benchmark: no model: pass -m MODEL (repeat -m to compare several) or set `model:`")
    return sources


def labels_for(section: BenchmarkSection, sources: list[str]) -> list[str]:
    """The recipe's labels, else names from the paths (OUT/model → OUT), made unique."""
    if section.labels:
        return list(section.labels)
    labels: list[str] = []
    for source in sources:
        base = _label_from_path(source)
        label, n = base, 2
        while label in labels:
            label, n = f"{base}#{n}", n + 1
        labels.append(label)
    return labels


def _label_from_path(source: str) -> str:
    if source.startswith(PENDING):
        return source.removeprefix(PENDING).strip(" >") or "input"
    path = Path(source)
    if path.suffix and path.stem != "openvino_model":
        return path.stem
    if path.suffix:
        path = path.parent
    if path.name == "model" and path.parent.name:
        return path.parent.name
    return path.name or source


def preflight(recipe: Recipe, ctx: StageContext) -> None:
    """Inputs exist, option combinations work, dynamic inputs have shapes — before any measuring."""
    from ovtool.backends.detect import detect_format, find_ir_xml
    from ovtool.backends.ov_bench import check_device

    section = _section(recipe)
    sources = model_sources(recipe, ctx)
    check_device(section.device)
    if section.labels and len(section.labels) != len(sources):
        raise UserError(f"benchmark.labels has {len(section.labels)} names for {len(sources)} models")
    for source in sources:
        if source.startswith(PENDING):
            continue
        detect_format(source)
        xml = find_ir_xml(Path(source))
        if xml is not None:
            _check_ir(xml, section)
    if section.prompt_text is not None and not Path(section.prompt_text).exists():
        raise UserError(f"benchmark.prompt_text: {section.prompt_text} not found")
    if section.data is not None and section.data.path is not None and not Path(section.data.path).exists():
        raise UserError(f"benchmark.data.path: {section.data.path} not found")
    if isinstance(section.pytorch_baseline, str) and not (Path(section.pytorch_baseline) / "config.json").exists():
        raise UserError(f"benchmark.pytorch_baseline: {section.pytorch_baseline} is not a Hugging Face folder")
    gates = recipe.gates
    if gates is not None and gates.max_regression_pct is not None:
        if not gates.baseline_run:
            raise UserError("gates.max_regression_pct needs gates.baseline_run: the run.json of an earlier benchmark")
        from ovtool.benchmark_compare import load_benchmark_run

        load_benchmark_run(Path(gates.baseline_run))


def _check_ir(xml: Path, section: BenchmarkSection) -> None:
    """The cheap IR checks --dry-run does: its route, and static shapes for static models."""
    from ovtool.backends.bench_inputs import resolve_shapes
    from ovtool.backends.ir_info import read_model

    model = read_model(xml)
    stateful = bool(model.get_sinks())
    kind = route(xml, stateful, section.mode)
    if kind == "static":
        resolve_shapes(model, section.shapes)


def route(xml: Path, stateful: bool, mode: str) -> str:
    """llm for stateful IRs with tokenizer IRs beside them, static otherwise (or as the recipe says)."""
    has_tokenizer = all((xml.parent / name).exists() for name in TOKENIZER_XMLS)
    if mode == "static":
        if stateful:
            raise UserError(f"{xml} is a stateful LLM (KV cache inside): benchmark it with mode: llm or auto")
        return "static"
    if stateful or mode == "llm":
        if not has_tokenizer:
            raise UserError(
                f"{xml.parent} has no openvino_tokenizer.xml/openvino_detokenizer.xml: convert the LLM with "
                "`ovtool convert` (which adds them) to benchmark it"
            )
        if not stateful:
            raise UserError(f"{xml} is not a stateful LLM IR: mode: llm needs one (convert with ovtool convert)")
        return "llm"
    return "static"


def run(recipe: Recipe, ctx: StageContext) -> StageResult:
    from ovtool.backends.ir_info import describe_ir
    from ovtool.stages.convert import ensure_ir

    section = _section(recipe)
    sources = model_sources(recipe, ctx)
    labels = labels_for(section, sources)
    with owned_tempdir("ovtool-benchmark-") as tmp:
        specs: list[ModelSpec] = []
        for label, source in zip(labels, sources, strict=True):
            # convert defaults, not `convert:` (which describes the candidate, e.g. int8 weights)
            xml = ensure_ir(source, Path(tmp) / f"m{len(specs)}", ctx)
            with ctx.step(f"inspect {label}"):
                ir = describe_ir(xml)
            specs.append(ModelSpec(label, source, xml, ir, route(xml, ir["stateful"], section.mode)))
        kinds = {spec.kind for spec in specs}
        if len(kinds) > 1:
            mixed = ", ".join(f"{s.label} ({s.kind})" for s in specs)
            raise UserError(f"benchmark: LLM and static models cannot share one table: {mixed}")
        if kinds == {"llm"}:
            return _run_llm(specs, section, recipe, ctx)
        return _run_static(specs, section, recipe, ctx)


def _spec_fields(spec: ModelSpec) -> dict[str, Any]:
    from ovtool.artifacts import sha256_file

    return {
        "source": spec.source,
        "ir_size_mb": round(spec.ir["size_bytes"] / 2**20, 3),
        "weight_precisions": spec.ir["weight_precisions"],
        "ir_sha256": {p.name: sha256_file(p) for p in (spec.xml, spec.xml.with_suffix(".bin")) if p.exists()},
    }


def _texts(section: BenchmarkSection, seed: int) -> list[str] | None:
    """Real text samples for the inputs when `benchmark.data` names a dataset (else random inputs)."""
    spec = section.data
    if spec is None or spec.synthetic:
        return None
    from ovtool.data.text import load_text_dataset

    assert spec.path is not None
    dataset = load_text_dataset(
        spec.path, fmt=spec.format, text_field=spec.text_field, label_field=spec.label_field, split=spec.split
    )
    texts = list(dataset["text"])
    random.Random(spec.seed if spec.seed is not None else seed).shuffle(texts)
    return texts[: spec.samples or DEFAULT_TEXT_SAMPLES]


def _run_static(specs: list[ModelSpec], section: BenchmarkSection, recipe: Recipe, ctx: StageContext) -> StageResult:
    from ovtool.backends import bench_report, bench_static, ov_bench
    from ovtool.backends.bench_plots import static_plots

    texts = _texts(section, ctx.seed)
    targets = []
    for spec in specs:
        with ctx.step(f"compile {spec.label}"):
            targets.append(bench_static.load(spec.label, spec.xml, section, ctx.seed, texts))
    timed: list[Any] = list(targets)
    torch_target = None
    if section.pytorch_baseline:
        torch_target = _load_torch(section, specs[0], targets[0], ctx)
        timed.append(torch_target)
    with timed_step(ctx, f"measure {len(timed)} model(s) interleaved"):
        bench_static.measure_interleaved(timed, section)
    if section.profile:
        for target in targets:
            with ctx.step(f"profile {target.label}"):
                bench_static.run_profile(target, section, ctx.work_dir / "profile")
    records = [t.as_dict() | _spec_fields(s) for t, s in zip(targets, specs, strict=True)]
    pytorch = torch_target.as_dict() if torch_target is not None else None
    latencies = {t.label: t.stats.latencies_ms for t in timed if hasattr(t, "stats")}
    if torch_target is not None:
        latencies[torch_target.label] = torch_target.latencies_ms
    bench_static.release(targets)
    bench_report.add_static_ratios(records, pytorch)

    result = StageResult(stage="benchmark")
    result.details = {
        "mode": "static",
        "environment": _environment(section, ov_bench),
        "settings": section.model_dump(mode="json"),
        "models": records,
        "pytorch_baseline": pytorch,
    }
    result.metrics = bench_report.static_metrics(records, pytorch) | _peak_rss(ctx)
    result.tables = bench_report.static_tables(records, pytorch, section.device)
    result.plots = static_plots(
        latencies, {r["label"]: r["throughput_inferences_per_s"] for r in [*records, *([pytorch] if pytorch else [])]}
    )
    result.gate_values = bench_report.gate_values("static", records, pytorch)
    _finish(result, recipe, records, "static", ctx, bench_report.csv_text("static", records, pytorch))
    result.summary = bench_report.static_summary(records, pytorch, section.device)
    return result


def _load_torch(section: BenchmarkSection, first: ModelSpec, target: Any, ctx: StageContext) -> Any:
    from ovtool.backends import bench_torch

    if isinstance(section.pytorch_baseline, str):
        folder = Path(section.pytorch_baseline)
    else:
        folder = Path(first.source)
        is_hf = folder.is_dir() and (folder / "config.json").exists()
        if not is_hf or (folder / "openvino_model.xml").exists():
            raise UserError(
                "benchmark.pytorch_baseline: true needs the first model to be a Hugging Face folder, not "
                f"{first.source}; give the folder: pytorch_baseline: path/to/hf-model"
            )
    with ctx.step("load PyTorch baseline"):
        return bench_torch.load(folder, target.batches[0], target.batch)


def _run_llm(specs: list[ModelSpec], section: BenchmarkSection, recipe: Recipe, ctx: StageContext) -> StageResult:
    from ovtool.backends import bench_report, llm_bench, ov_bench
    from ovtool.backends.bench_plots import llm_plots

    result = StageResult(stage="benchmark")
    if section.profile:
        result.warnings.append("profile applies to static models: openvino_genai exposes no performance counters")
    text = llm_bench.read_prompt_text(section.prompt_text)
    targets = []
    for spec in specs:
        with ctx.step(f"load pipeline {spec.label}"):
            targets.append(llm_bench.load(spec.label, spec.xml.parent, section, text))
    with timed_step(ctx, f"generate with {len(targets)} model(s) interleaved"):
        llm_bench.measure_interleaved(targets, section, ctx.seed)
    records = [t.as_dict() | _spec_fields(s) for t, s in zip(targets, specs, strict=True)]
    llm_bench.release(targets)
    bench_report.add_llm_ratios(records)
    result.details = {
        "mode": "llm",
        "environment": _environment(section, ov_bench) | {"openvino_genai": _genai_version()},
        "settings": section.model_dump(mode="json"),
        "prompt_text": section.prompt_text or "built-in passage (A Midsummer Night's Dream)",
        "models": records,
    }
    result.metrics = bench_report.llm_metrics(records) | _peak_rss(ctx)
    result.tables = bench_report.llm_tables(records, section.device)
    result.plots = llm_plots(records)
    result.gate_values = bench_report.gate_values("llm", records, None)
    _finish(result, recipe, records, "llm", ctx, bench_report.csv_text("llm", records, None))
    result.summary = bench_report.llm_summary(records, max(section.prompt_lengths), section.device)
    return result


def _finish(
    result: StageResult, recipe: Recipe, records: list[dict[str, Any]], mode: str, ctx: StageContext, csv: str
) -> None:
    """report.csv beside the report, and the regression against a baseline run when a gate asks."""
    (ctx.work_dir / "report.csv").write_text(csv)
    gates = recipe.gates
    if gates is not None and gates.max_regression_pct is not None and gates.baseline_run:
        from ovtool.benchmark_compare import regression_pct

        value, detail = regression_pct(Path(gates.baseline_run), mode, records)
        result.gate_values["regression_pct"] = value
        result.details["regression"] = detail
    console.detail(json.dumps(result.gate_values))


def _peak_rss(ctx: StageContext) -> dict[str, Metric]:
    """Peak resident memory of the whole benchmark (models loaded together when interleaved)."""
    peak = max((step.peak_rss_bytes for step in ctx.steps), default=0)
    return {"peak_rss_mb": Metric(round(peak / 2**20, 1), "MiB", "peak resident memory of the benchmark process")}


def _environment(section: BenchmarkSection, ov_bench: Any) -> dict[str, Any]:
    import openvino as ov

    return {
        "device": section.device,
        "device_name": ov_bench.device_name(section.device),
        "device_default_precision": ov_bench.device_default_precision(section.device),
        "openvino": ov.get_version(),
    }


def _genai_version() -> str:
    import openvino_genai as ov_genai

    return str(ov_genai.__version__)
