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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.context import ModelRef, Pending, StageContext
from ovtool.errors import UserError
from ovtool.extras import require
from ovtool.ir_folder import MODEL_XML, TOKENIZER_XMLS, IRFolder
from ovtool.recipe.sections.benchmark import INPUT_PLACEHOLDER, MODEL_PLACEHOLDER, BenchmarkSection
from ovtool.results import Metric, StageResult
from ovtool.scratch import owned_tempdir
from ovtool.stages.base import Stage
from ovtool.stages.benchmark_records import LLMRecord, ModelSpec, StaticRecord, TorchRecord

DEFAULT_TEXT_SAMPLES = 64
# what a non-IR source becomes when converted with convert's defaults (an HF folder: depends on its task)
KIND_AFTER_CONVERT = {"gguf": "llm", "onnx": "static", "tflite": "static", "tf": "static", "paddle": "static",
                      "pytorch": "static"}  # fmt: skip


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


def model_sources(section: BenchmarkSection, ctx: StageContext) -> list[ModelRef]:
    """benchmark.models with placeholders resolved, else the stage input (or `model:`).

    At preflight the stage input may be `Pending` (the output of an earlier stage of this run).
    """
    model = ctx.input.model
    sources: list[ModelRef] = []
    for item in section.models or ([model] if model else []):
        if item == MODEL_PLACEHOLDER:
            if not ctx.input.source_model:
                raise UserError(f"benchmark.models uses {MODEL_PLACEHOLDER} but the recipe has no `model:`")
            item = ctx.input.source_model
        elif item == INPUT_PLACEHOLDER:
            if not model:
                raise UserError(f"benchmark.models uses {INPUT_PLACEHOLDER} but this stage has no input model")
            item = model
        sources.append(item)
    if not sources:
        raise UserError("benchmark: no model: pass -m MODEL (repeat -m to compare several) or set `model:`")
    placeholders = {MODEL_PLACEHOLDER, INPUT_PLACEHOLDER}
    if placeholders <= set(section.models) and model == ctx.input.source_model:  # no earlier stage made {input}
        raise UserError(
            f"benchmark.models: {INPUT_PLACEHOLDER} is `model:` itself when no earlier stage of this run makes "
            f"it, so {MODEL_PLACEHOLDER} would be measured against itself: run the whole recipe with "
            "`ovtool run RECIPE` (its convert/quantize section makes the other model), or give each with -m"
        )
    return sources


def labels_for(section: BenchmarkSection, sources: Sequence[ModelRef]) -> list[str]:
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


def _label_from_path(source: ModelRef) -> str:
    if isinstance(source, Pending):
        return source.stage
    path = Path(source)
    if path.suffix and path.name != MODEL_XML:
        return path.stem
    if path.suffix:
        path = path.parent
    if path.name == "model" and path.parent.name:
        return path.parent.name
    return path.name or source


def preflight(section: BenchmarkSection, ctx: StageContext) -> None:
    """Inputs exist, option combinations work, dynamic inputs have shapes — before any measuring."""
    from ovtool.backends.openvino.ov_bench import check_device
    from ovtool.model_files import find_ir_xml
    from ovtool.stages.dataset_refs import exists_or_pending
    from ovtool.stages.source_check import check_source

    sources = model_sources(section, ctx)
    check_device(section.device)
    if section.labels and len(section.labels) != len(sources):
        raise UserError(f"benchmark.labels has {len(section.labels)} names for {len(sources)} models")
    kinds: dict[str, str] = {}  # label → llm | static, where the files already say it
    for label, source in zip(labels_for(section, sources), sources, strict=True):
        if isinstance(source, Pending):
            continue
        fmt = check_source(source)  # a non-IR model is converted first (with convert's defaults)
        xml = find_ir_xml(Path(source))
        kind = _check_ir(xml, section) if xml is not None else KIND_AFTER_CONVERT.get(fmt)
        if kind is not None:
            kinds[label] = kind
    if len(set(kinds.values())) > 1:
        mixed = ", ".join(f"{label} ({kind})" for label, kind in kinds.items())
        raise UserError(f"benchmark: LLM and static models cannot share one table: {mixed}")
    if section.prompt_text is not None and not Path(section.prompt_text).exists():
        raise UserError(f"benchmark.prompt_text: {section.prompt_text} not found")
    if section.adapters:  # the files themselves; against each IR once it is known (run)
        from ovtool.backends.genai.adapters import check_adapters

        check_adapters([(a.path, a.alpha) for a in section.adapters], None)
    data_path = section.data.path if section.data is not None else None
    if data_path is not None and not exists_or_pending(data_path, ctx.input.dataset):
        raise UserError(f"benchmark.data.path: {data_path} not found")
    if section.pytorch_baseline:
        require("hf", "benchmark.pytorch_baseline (a PyTorch baseline)", ("torch",))
    if isinstance(section.pytorch_baseline, str) and not (Path(section.pytorch_baseline) / "config.json").exists():
        raise UserError(f"benchmark.pytorch_baseline: {section.pytorch_baseline} is not a Hugging Face folder")
    gates = ctx.input.gates
    if gates is not None and gates.max_regression_pct is not None:
        if not gates.baseline_run:
            raise UserError("gates.max_regression_pct needs gates.baseline_run: the run.json of an earlier benchmark")
        from ovtool.benchmark_compare import load_benchmark_run

        load_benchmark_run(Path(gates.baseline_run))


def _check_ir(xml: Path, section: BenchmarkSection) -> str:
    """The cheap IR checks --dry-run does: its route (returned), and static shapes for static models."""
    from ovtool.backends.genai.llm_bench import stateful_xml
    from ovtool.backends.openvino.bench_inputs import resolve_shapes
    from ovtool.backends.openvino.ir_info import read_model

    if stateful_xml(xml):  # an LLM: routed from the XML text; openvino_genai reads the model itself
        return route(xml, True, section.mode)
    model = read_model(xml)
    stateful = bool(model.get_sinks())
    kind = route(xml, stateful, section.mode)
    if kind == "static":
        resolve_shapes(model, section.shapes)
    return kind


def route(xml: Path, stateful: bool, mode: str) -> str:
    """llm for stateful IRs with tokenizer IRs beside them, static otherwise (or as the recipe says)."""
    ir = IRFolder(root=xml.parent, xml=xml)
    if mode == "static":
        if stateful:
            raise UserError(f"{xml} is a stateful LLM (KV cache inside): benchmark it with mode: llm or auto")
        return "static"
    if stateful or mode == "llm":
        if not ir.has_tokenizer:
            raise UserError(
                f"{xml.parent} has no {'/'.join(TOKENIZER_XMLS)}: convert the LLM with "
                "`ovtool convert` (which adds them) to benchmark it"
            )
        if not stateful:
            raise UserError(f"{xml} is not a stateful LLM IR: mode: llm needs one (convert with ovtool convert)")
        return "llm"
    return "static"


def run(section: BenchmarkSection, ctx: StageContext) -> StageResult:
    from ovtool.backends.genai import llm_bench
    from ovtool.backends.openvino.ir_info import describe_ir
    from ovtool.stages.convert import ensure_ir

    sources = [_produced(source) for source in model_sources(section, ctx)]
    labels = labels_for(section, sources)
    with owned_tempdir("ovtool-benchmark-") as tmp:
        specs: list[ModelSpec] = []
        for label, source in zip(labels, sources, strict=True):
            # convert defaults, not `convert:` (which describes the candidate, e.g. int8 weights)
            xml = ensure_ir(source, Path(tmp) / f"m{len(specs)}", ctx)
            with ctx.step(f"inspect {label}"):  # an LLM from its files: the pipeline reads the model itself
                ir = llm_bench.describe_llm_ir(xml) if llm_bench.stateful_xml(xml) else describe_ir(xml)
            specs.append(ModelSpec(label, source, xml, ir, route(xml, ir["stateful"], section.mode)))
        kinds = {spec.kind for spec in specs}
        if len(kinds) > 1:
            mixed = ", ".join(f"{s.label} ({s.kind})" for s in specs)
            raise UserError(f"benchmark: LLM and static models cannot share one table: {mixed}")
        if kinds == {"llm"}:
            return _run_llm(specs, section, ctx)
        return _run_static(specs, section, ctx)


def _produced(source: ModelRef) -> str:
    """A source as a path/hub id: by `run`, every earlier stage has produced its output."""
    if isinstance(source, Pending):
        raise RuntimeError(f"benchmark input not available yet: {source}")
    return source


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


def _run_static(specs: list[ModelSpec], section: BenchmarkSection, ctx: StageContext) -> StageResult:
    from ovtool.backends.openvino import bench_static
    from ovtool.stages import benchmark_report as report
    from ovtool.stages.benchmark_choice import static_choice
    from ovtool.stages.benchmark_ratios import add_static_ratios

    texts = _texts(section, ctx.seed)
    targets = []
    choices = [static_choice(section, spec.xml) for spec in specs]  # a stored `ovtool tune` choice under auto
    for spec, choice in zip(specs, choices, strict=True):
        with ctx.step(f"compile {spec.label}"):
            targets.append(bench_static.load(spec.label, spec.xml, section, ctx.seed, texts, choice.properties))
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
    records = [StaticRecord.of(t, s, c.record()) for t, s, c in zip(targets, specs, choices, strict=True)]
    pytorch = TorchRecord.of(torch_target) if torch_target is not None else None
    latencies = {t.label: t.stats.latencies_ms for t in targets}
    if torch_target is not None:
        latencies[torch_target.label] = torch_target.latencies_ms
    bench_static.release(targets)
    add_static_ratios(records, pytorch)

    result = StageResult(stage="benchmark")
    result.details = {
        "mode": "static",
        "environment": _environment(section),
        "settings": section.model_dump(mode="json"),
        "models": records,
        "pytorch_baseline": pytorch,
    }
    result.metrics = report.static_metrics(records, pytorch) | _peak_rss(ctx)
    result.tables = report.static_tables(records, pytorch, section.device)
    result.plots = report.static_plots(latencies, records, pytorch)
    result.gate_values = report.static_gate_values(records, pytorch)
    _finish(result, "static", records, ctx, report.static_csv(records, pytorch, _peak_mb(result)))
    result.summary = report.static_summary(records, pytorch, section.device)
    return result


def _load_torch(section: BenchmarkSection, first: ModelSpec, target: Any, ctx: StageContext) -> Any:
    from ovtool.backends.torch import bench_torch

    if isinstance(section.pytorch_baseline, str):
        folder = Path(section.pytorch_baseline)
    else:
        folder = Path(first.source)
        is_hf = folder.is_dir() and (folder / "config.json").exists()
        if not is_hf or IRFolder.at(folder).xml.exists():
            raise UserError(
                "benchmark.pytorch_baseline: true needs the first model to be a Hugging Face folder, not "
                f"{first.source}; give the folder: pytorch_baseline: path/to/hf-model"
            )
    with ctx.step("load PyTorch baseline"):
        return bench_torch.load(folder, target.batches[0], target.batch)


def _run_llm(specs: list[ModelSpec], section: BenchmarkSection, ctx: StageContext) -> StageResult:
    from ovtool.backends.genai import llm_bench
    from ovtool.stages import benchmark_report as report
    from ovtool.stages.benchmark_choice import llm_choice
    from ovtool.stages.benchmark_ratios import add_llm_ratios

    result = StageResult(stage="benchmark")
    if section.profile:
        result.warnings.append("profile applies to static models: openvino_genai exposes no performance counters")
    text = llm_bench.read_prompt_text(section.prompt_text)
    adapted = _adapters_per_model(specs, section)  # exit 2 before any pipeline is built
    targets, measured = [], []
    for spec in specs:
        folder = spec.xml.parent
        choice = llm_choice(section, folder)
        with ctx.step(f"load pipeline {spec.label}"):
            targets.append(llm_bench.load(spec.label, folder, section, text, choice.precision, choice.properties))
        measured.append((spec, choice))
        if adapted:  # the same model with the LoRA adapters, measured interleaved with it
            with ctx.step(f"load pipeline {spec.label}+lora"):
                targets.append(llm_bench.load(f"{spec.label}+lora", folder, section, text, choice.precision,
                                              choice.properties, adapters=adapted[spec.label]))  # fmt: skip
            measured.append((spec, choice))
    with timed_step(ctx, f"generate with {len(targets)} model(s) interleaved"):
        llm_bench.measure_interleaved(targets, section, ctx.seed)
    records = [LLMRecord.of(t, s, c.record()) for t, (s, c) in zip(targets, measured, strict=True)]
    llm_bench.release(targets)
    add_llm_ratios(records)
    result.details = {
        "mode": "llm",
        "environment": _environment(section) | {"openvino_genai": llm_bench.genai_version()},
        "settings": section.model_dump(mode="json"),
        "prompt_text": section.prompt_text or "built-in passage (A Midsummer Night's Dream)",
        "adapters": [a.record() for a in next(iter(adapted.values()), [])],  # path, sha256, alpha
        "models": records,
    }
    result.metrics = report.llm_metrics(records) | _peak_rss(ctx)
    result.tables = report.llm_tables(records, section.device)
    result.plots = report.llm_plots(records)
    result.gate_values = report.llm_gate_values(records)
    _finish(result, "llm", records, ctx, report.llm_csv(records, _peak_mb(result)))
    result.summary = report.llm_summary(records, max(section.prompt_lengths), section.device)
    return result


def _adapters_per_model(specs: list[ModelSpec], section: BenchmarkSection) -> dict[str, list[Any]]:
    """benchmark.adapters checked against each LLM's IR (label → AppliedAdapter list); {} without adapters."""
    if not section.adapters:
        return {}
    from ovtool.backends.genai.adapters import check_adapters

    items = [(a.path, a.alpha) for a in section.adapters]
    return {spec.label: check_adapters(items, spec.xml) for spec in specs}


def _finish(
    result: StageResult, mode: str, records: list[StaticRecord] | list[LLMRecord], ctx: StageContext, csv: str
) -> None:
    """report.csv beside the report, and the regression against a baseline run when a gate asks."""
    from ovtool.stages.benchmark_ratios import headline

    (ctx.work_dir / "report.csv").write_text(csv)
    gates = ctx.input.gates
    if gates is not None and gates.max_regression_pct is not None and gates.baseline_run:
        from ovtool.benchmark_compare import regression_pct

        value, detail = regression_pct(Path(gates.baseline_run), mode, {r.label: headline(r) for r in records})
        result.gate_values["regression_pct"] = value
        result.details["regression"] = detail
    console.detail(json.dumps(result.gate_values))


def _peak_mb(result: StageResult) -> float | None:
    """The benchmark's peak RSS (MiB) for report.csv, from the metric _peak_rss set."""
    metric = result.metrics.get("peak_rss_mb")
    return metric.value if metric is not None else None


def _peak_rss(ctx: StageContext) -> dict[str, Metric]:
    """Peak resident memory of the whole benchmark (models loaded together when interleaved)."""
    peak = max((step.peak_rss_bytes for step in ctx.steps), default=0)
    return {"peak_rss_mb": Metric(round(peak / 2**20, 1), "MiB", "peak resident memory of the benchmark process")}


def _environment(section: BenchmarkSection) -> dict[str, Any]:
    from ovtool.backends.openvino import ov_bench

    return {
        "device": section.device,
        "device_name": ov_bench.device_name(section.device),
        "device_default_precision": ov_bench.device_default_precision(section.device),
        "openvino": ov_bench.openvino_version(),
    }


STAGE = Stage(name="benchmark", section_type=BenchmarkSection, run=run, preflight=preflight,
              needs_model=False,  # models come from benchmark.models or the stage input; checked in preflight
              produces_model=False, optional_section=True, cache="measurement",
              libraries=("openvino", "openvino-genai", "openvino-tokenizers", "optimum-intel", "transformers",
                         "torch"))  # fmt: skip
