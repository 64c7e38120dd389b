"""The quantize stage: PTQ (nncf.quantize) or weight compression (nncf.compress_weights) of an IR, then
the quality it cost on held-out samples and the speed it bought, both against the original."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.context import Pending, StageContext
from ovtool.errors import UserError
from ovtool.extras import require
from ovtool.ir_folder import IRFolder
from ovtool.model_files import find_ir_xml
from ovtool.recipe.sections.quantize import QuantizeSection
from ovtool.results import StageResult
from ovtool.stages.base import Stage
from ovtool.stages.quantize_report import (
    CompressionFacts,
    LlmQuality,
    OutputQuality,
    Produced,
    Quality,
    QuantizeOutcome,
    SampleSummary,
    SpeedComparison,
    Throughput,
    TokenRates,
    fill_report,
)

EVAL_SAMPLES = {"llm": 16, "other": 200}
SCRATCH = ".original-ir"


def _calibration_count(section: QuantizeSection) -> int:
    if section.calibration is not None and section.calibration.samples is not None:
        return section.calibration.samples
    return section.weights.subset_size if section.weights is not None else section.subset_size


def preflight(section: QuantizeSection, ctx: StageContext) -> None:
    """Data exists and has the fields asked for; options fit the model (group size vs channels)."""
    from ovtool.data.calibration import check_spec

    for role, spec in (("calibration", section.calibration), ("evaluation", section.evaluation),
                       ("accuracy_control.validation", getattr(section.accuracy_control, "validation", None))):
        if spec is not None:
            check_spec(spec, role)
    if section.quality.embedding_model is not None:
        require("hf", "quantize.quality.embedding_model (answers embedded in PyTorch)", ("torch",))
    if section.weights is None and section.mode == "int8" and section.target_device in ("any", "cpu", "cpu_spr"):
        from ovtool.stages.precision import host_ptq_warning

        warning = host_ptq_warning()  # INT8 activations on a CPU without VNNI/AMX rarely pay
        if warning:
            console.warn(warning)
    wanted = _calibration_count(section)
    subset = section.weights.subset_size if section.weights is not None else section.subset_size
    if section.calibration is not None and wanted < subset:
        console.warn(f"quantize: calibration.samples {wanted} is below the subset size {subset}: "
                     f"only {wanted} samples will calibrate")  # fmt: skip
    source = ctx.input.model
    if source is not None and not isinstance(source, Pending):  # else not produced yet: checked in run
        from ovtool.stages.source_check import check_source

        fmt = check_source(source, ctx.input.convert)  # a non-IR input is converted first
        xml = find_ir_xml(Path(source)) if fmt == "ir" else None
        if xml is not None and section.weights is not None:
            from ovtool.backends.nncf.nncf_weights import check_group_size

            check_group_size(xml, section.weights)
    if section.calibration is None and section.evaluation is None:  # data-free weights: nothing to measure on
        raise UserError("quantize.evaluation: no data to measure quality on: set quantize.evaluation "
                        "(--evaluation PATH, held-out text or images)")


def _original_ir(ctx: StageContext) -> Path:
    """The IR to compress and to measure against: the input, or its conversion (a non-IR input is converted
    as the recipe's `convert:` says) into a scratch folder that produce and measure share; measure removes it."""
    from ovtool.stages.convert import ensure_ir

    scratch = ctx.work_dir / SCRATCH
    converted = IRFolder.at(scratch).xml
    if converted.exists():
        return converted
    return ensure_ir(ctx.input.model_path, scratch, ctx, ctx.input.convert)


def _load_data(section: QuantizeSection, io: Any, ctx: StageContext) -> tuple[Any, Any]:
    """Calibration and held-out samples, drawn together with the seed so they never overlap."""
    from ovtool.data.calibration import calibration_and_evaluation

    default_eval = EVAL_SAMPLES["llm" if io.kind == "llm" else "other"]
    with ctx.step("load calibration and held-out data"):
        return calibration_and_evaluation(
            section.calibration, section.evaluation, io, calib_count=_calibration_count(section),
            eval_count=section.quality.samples or default_eval, seed=ctx.seed,
        )  # fmt: skip


def produce(section: QuantizeSection, ctx: StageContext) -> Produced:
    """The compressed IR in ctx.model_dir and the facts about it: the part the stage cache keeps."""
    from ovtool.backends.openvino.ir_info import describe_ir
    from ovtool.data.calibration import describe_inputs

    try:
        xml = _original_ir(ctx)
        io = describe_inputs(xml, describe_ir(xml))
        if section.weights is not None:
            from ovtool.backends.nncf.nncf_weights import check_group_size

            check_group_size(xml, section.weights)
        calib, held = _load_data(section, io, ctx)
        warnings: list[str] = []
        subset = section.weights.subset_size if section.weights is not None else section.subset_size
        if calib is not None and len(calib) < subset:
            warnings.append(f"{len(calib)} calibration samples, fewer than the subset size {subset}")
        facts = _compress(section, xml, io, calib, held, ctx)
        _copy_side_files(xml, ctx.model_dir)
        with ctx.step("inspect IRs"):
            before, after = describe_ir(xml), describe_ir(IRFolder.at(ctx.model_dir).xml)
    except BaseException:
        shutil.rmtree(ctx.work_dir / SCRATCH, ignore_errors=True)
        raise
    return Produced(facts, before, after, SampleSummary.of(calib), warnings, io=io, held=held)


def measure(section: QuantizeSection, ctx: StageContext, produced: Produced) -> StageResult:
    """Quality on held-out samples and speed, original against the compressed IR in ctx.model_dir.

    Runs on every run (a cached IR is measured again) unless the recipe caches measurements too.
    """
    from ovtool.backends.openvino.ir_info import describe_ir
    from ovtool.data.calibration import describe_inputs

    result = StageResult(stage="quantize", model_dir=ctx.model_dir, warnings=list(produced.warnings))
    try:
        xml = _original_ir(ctx)
        io, held = produced.io, produced.held
        if held is None:  # the IR came from the cache: the same held-out samples again (same seed, same split)
            io = describe_inputs(xml, describe_ir(xml))
            _, held = _load_data(section, io, ctx)
        quality = _measure(section, xml, io, held, ctx, result)
        outcome = QuantizeOutcome(io, produced.calib, held, produced.facts, quality, produced.before, produced.after)
        fill_report(result, section, outcome)
        if "speedup" in result.metrics:  # a speed ratio holds for the CPU it was measured on: name it
            from ovtool.stages.precision import measured_on

            result.details["speed_measured_on"] = measured_on()
            result.summary = f"{result.summary.rstrip('.')}. Speed measured on {result.details['speed_measured_on']}."
    finally:
        shutil.rmtree(ctx.work_dir / SCRATCH, ignore_errors=True)
    return result


def run(section: QuantizeSection, ctx: StageContext) -> StageResult:
    return measure(section, ctx, produce(section, ctx))


def _compress(section: QuantizeSection, xml: Path, io: Any, calib: Any, held: Any,
              ctx: StageContext) -> CompressionFacts:  # fmt: skip
    """Run NNCF and save the result to OUT/model; returns what was done (for run.json)."""
    from ovtool.backends.openvino.ir_info import read_model
    from ovtool.backends.openvino.ov_convert import save_ir

    model = read_model(xml)
    facts = CompressionFacts(method=section.method)
    if section.weights is not None:
        from ovtool.backends.nncf.nncf_weights import compress

        with ctx.step(f"nncf.compress_weights {section.weights.mode}"):
            compressed = compress(model, section.weights, calib.inputs if calib is not None else None)
    else:
        compressed = _ptq(section, model, io, calib, held, ctx, facts)
    ctx.model_dir.mkdir(parents=True, exist_ok=True)
    with ctx.step("save IR"):
        save_ir(compressed, IRFolder.at(ctx.model_dir).xml, fp16=True)  # ov.save_model's default: fp16
    return facts


def _ptq(section: QuantizeSection, model: Any, io: Any, calib: Any, held: Any, ctx: StageContext,
         facts: CompressionFacts) -> Any:  # fmt: skip
    from ovtool.backends.nncf import nncf_ptq

    assert calib is not None
    extra: list[str] = []
    auto = section.ignored_scope.auto if section.ignored_scope is not None else None
    if auto is not None:
        with ctx.step(f"measure activation ranges ({len(calib)} samples)"):
            ranges = nncf_ptq.activation_ranges(model, calib.inputs[: section.subset_size], auto.types)
        facts.auto_ignored = ranges[: auto.top_k]
        extra = [r.name for r in facts.auto_ignored]
        facts.activation_range_median = sorted(r.width for r in ranges)[len(ranges) // 2]
    if section.accuracy_control is None:
        with ctx.step(f"nncf.quantize {section.mode}"):
            return nncf_ptq.quantize(model, section, calib.inputs, extra)
    pairs, validation_fn = _accuracy_control_data(section, io, held, ctx)
    with ctx.step("nncf.quantize_with_accuracy_control"):
        quantized, control = nncf_ptq.quantize_with_accuracy_control(model, section, calib.inputs, pairs,
                                                                     validation_fn)  # fmt: skip
    facts.reverted_to_float = control.reverted
    facts.accuracy_control_met = control.met
    return quantized


def _accuracy_control_data(section: QuantizeSection, io: Any, held: Any, ctx: StageContext) -> tuple[list, Any]:
    """(inputs, target) pairs and the validation function for the recipe's metric."""
    from ovtool.backends.openvino import quality

    control = section.accuracy_control
    assert control is not None
    data = held
    if control.validation is not None:
        from ovtool.data.calibration import calibration_and_evaluation

        _, data = calibration_and_evaluation(None, control.validation, io, calib_count=0,
                                             eval_count=control.validation.samples or 200, seed=ctx.seed)  # fmt: skip
    metric = control.metric
    if metric in ("accuracy", "f1"):
        if data.labels is None:
            raise UserError(f"accuracy_control.metric {metric} needs labelled data: set label_field")
        pairs = list(zip(data.inputs, data.labels, strict=True))

        def validate(compiled: Any, items: Any) -> float:
            batch = list(items)
            return quality.classification_metric(compiled, [i for i, _ in batch], [t for _, t in batch], metric)

        return pairs, validate
    if metric == "perplexity":
        if io.kind != "llm":
            raise UserError("accuracy_control.metric perplexity applies to LLMs (a model with logits over tokens)")
        pairs = [(item, None) for item in data.inputs]

        def negative_ppl(compiled: Any, items: Any) -> float:
            return -quality.perplexity(compiled, [i for i, _ in items])

        return pairs, negative_ppl
    reference = quality.outputs(quality.compile_model(IRFolder.at(io.folder).xml, "f32"), data.inputs)
    pairs = list(zip(data.inputs, reference, strict=True))

    def similarity(compiled: Any, items: Any) -> float:
        batch = list(items)
        got = quality.outputs(compiled, [i for i, _ in batch])
        return quality.compare_outputs([r for _, r in batch], got, None).similarity_mean

    return pairs, similarity


def _copy_side_files(xml: Path, model_dir: Path) -> None:
    """Tokenizer IRs, configs, generation_config… beside the quantized IR, so loaders find them."""
    for path in xml.parent.iterdir():
        skip = path.name in (xml.name, xml.with_suffix(".bin").name) or (model_dir / path.name).exists()
        if path.is_file() and not skip:
            shutil.copy2(path, model_dir / path.name)


def _measure(section: QuantizeSection, xml: Path, io: Any, held: Any, ctx: StageContext,
             result: StageResult) -> Quality:  # fmt: skip
    """Quality on held-out samples and a short speed ratio, original against compressed."""
    if io.kind == "llm":
        return _measure_llm(section, xml, io, held, ctx, result)
    return _measure_outputs(section, xml, held, ctx)


def _measure_llm(section: QuantizeSection, xml: Path, io: Any, held: Any, ctx: StageContext,
                 result: StageResult) -> LlmQuality:  # fmt: skip
    """Held-out perplexity of both; greedy-generation agreement and tokens/s where tokenizer IRs exist."""
    from ovtool.backends.openvino import quality

    q = section.quality
    new_xml = IRFolder.at(ctx.model_dir).xml
    with ctx.step(f"perplexity on {len(held)} held-out chunks (f32)"):
        measured = LlmQuality(
            perplexity_original=quality.perplexity(quality.compile_model(xml, q.inference_precision), held.inputs),
            perplexity_compressed=quality.perplexity(quality.compile_model(new_xml, q.inference_precision),
                                                     held.inputs),
        )  # fmt: skip
    prompts = _prompts(held, io, q.prompts)
    if prompts and IRFolder(root=xml.parent, xml=xml).has_tokenizer:
        with ctx.step(f"greedy generations on {len(prompts)} prompts"):
            measured.generation = quality.generation_agreement(xml.parent, ctx.model_dir, prompts, q.max_new_tokens,
                                                               q.embedding_model)  # fmt: skip
        if q.speed_seconds > 0:
            from ovtool.recipe.sections.generate import GenerateSection
            from ovtool.stages.precision import precision_for

            # each IR as `ovtool generate` runs it: users deploy it that way, so time it that way
            precisions = [precision_for(GenerateSection(), folder)[0] for folder in (xml.parent, ctx.model_dir)]
            with ctx.step("tokens/s of both (the precision `ovtool generate` picks for each)"):
                rates = quality.llm_tokens_per_s_pair([xml.parent, ctx.model_dir], prompts[:3], 64, precisions)
            measured.tokens_per_s = TokenRates(rates[0], rates[1],
                                               (precisions[0] or "default", precisions[1] or "default"))  # fmt: skip
    elif prompts:
        result.warnings.append("no tokenizer IR beside the model: generation agreement and tokens/s not measured")
    return measured


def _measure_outputs(section: QuantizeSection, xml: Path, held: Any, ctx: StageContext) -> OutputQuality:
    """Similarity of outputs (accuracy/F1 with labels) and throughput of both, for any non-LLM model."""
    from ovtool.backends.openvino import quality

    q = section.quality
    new_xml = IRFolder.at(ctx.model_dir).xml
    with ctx.step(f"outputs on {len(held)} held-out samples (f32)"):
        ref = quality.outputs(quality.compile_model(xml, q.inference_precision), held.inputs)
        got = quality.outputs(quality.compile_model(new_xml, q.inference_precision), held.inputs)
        measured = OutputQuality(outputs=quality.compare_outputs(ref, got, held.labels))
    if q.speed_seconds > 0:
        from ovtool.backends.openvino.ov_bench import device_default_precision

        # the original at the device default and, where that is not f32, at f32 too — interleaved
        xmls = [xml, new_xml]
        precisions: list[str | None] = [None, None]
        if device_default_precision("CPU") != "f32":
            xmls.append(xml)
            precisions.append("f32")
        with ctx.step("throughput of both"):
            raw = quality.throughput_pair(xmls, held.inputs[0], q.speed_seconds, precisions=precisions)
        speeds = [Throughput.of(r) for r in raw]
        measured.speed = SpeedComparison(speeds[0], speeds[1], speeds[2] if len(speeds) == 3 else None)
    return measured


def _prompts(held: Any, io: Any, count: int) -> list[str]:
    """The first 32 tokens of held-out chunks, decoded: continuation prompts the models never calibrated on."""
    from ovtool.data.calibration import _tokenizer

    chunks = held.info.get("token_chunks", [])[:count]
    if not chunks:
        return []
    tokenizer = _tokenizer(io.folder)
    return [tokenizer.decode(chunk[:32]) for chunk in chunks]


def _inference_decides(section: QuantizeSection) -> bool:
    """Accuracy control keeps or reverts layers by metrics it measures on this CPU."""
    return section.accuracy_control is not None


STAGE = Stage(name="quantize", section_type=QuantizeSection, preflight=preflight, run=run, cache="artifact",
              produce=produce, measure=measure, machine_dependent=_inference_decides,
              libraries=("openvino", "nncf", "openvino-tokenizers", "transformers", "tokenizers", "datasets",
                         "numpy"))  # fmt: skip
