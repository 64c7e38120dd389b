"""The quantize stage: PTQ (nncf.quantize) or weight compression (nncf.compress_weights) of an IR, then
the quality it cost on held-out samples and the speed it bought, both against the original."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.backends.detect import detect_format, find_ir_xml
from ovtool.errors import UserError
from ovtool.recipe.schema import Recipe
from ovtool.recipe.sections.quantize import QuantizeSection
from ovtool.stages.context import Metric, StageContext, StageResult, Table

NEEDS_MODEL = True
NEEDS_OUTPUT = True
EVAL_SAMPLES = {"llm": 16, "other": 200}
SCRATCH = ".original-ir"


def _section(recipe: Recipe) -> QuantizeSection:
    assert recipe.quantize is not None  # the loader adds `quantize: {}`, which validates or fails
    return recipe.quantize


def _calibration_count(section: QuantizeSection) -> int:
    if section.calibration is not None and section.calibration.samples is not None:
        return section.calibration.samples
    return section.weights.subset_size if section.weights is not None else section.subset_size


def preflight(recipe: Recipe, ctx: StageContext) -> None:
    """Data exists and has the fields asked for; options fit the model (group size vs channels)."""
    from ovtool.data.calibration import check_spec

    section = _section(recipe)
    for role, spec in (("calibration", section.calibration), ("evaluation", section.evaluation),
                       ("accuracy_control.validation", getattr(section.accuracy_control, "validation", None))):
        if spec is not None:
            check_spec(spec, role)
    wanted = _calibration_count(section)
    subset = section.weights.subset_size if section.weights is not None else section.subset_size
    if section.calibration is not None and wanted < subset:
        console.warn(f"quantize: calibration.samples {wanted} is below the subset size {subset}: "
                     f"only {wanted} samples will calibrate")  # fmt: skip
    assert ctx.input_model is not None
    if ctx.input_model.startswith("<output of"):
        return
    fmt = detect_format(ctx.input_model)
    xml = find_ir_xml(Path(ctx.input_model)) if fmt == "ir" else None
    if xml is not None and section.weights is not None:
        from ovtool.backends.nncf_weights import check_group_size

        check_group_size(xml, section.weights)


def run(recipe: Recipe, ctx: StageContext) -> StageResult:
    from ovtool.backends.ir_info import describe_ir
    from ovtool.data.calibration import calibration_and_evaluation, describe_inputs
    from ovtool.stages.convert import ensure_ir

    section = _section(recipe)
    assert ctx.input_model is not None
    scratch = ctx.work_dir / SCRATCH
    result = StageResult(stage="quantize", model_dir=ctx.model_dir)
    try:
        xml = ensure_ir(ctx.input_model, scratch, ctx, recipe.convert)
        io = describe_inputs(xml)
        if section.weights is not None:
            from ovtool.backends.nncf_weights import check_group_size

            check_group_size(xml, section.weights)
        default_eval = EVAL_SAMPLES["llm" if io.kind == "llm" else "other"]
        with ctx.step("load calibration and held-out data"):
            calib, held = calibration_and_evaluation(
                section.calibration, section.evaluation, io, calib_count=_calibration_count(section),
                eval_count=section.quality.samples or default_eval, seed=ctx.seed,
            )  # fmt: skip
        subset = section.weights.subset_size if section.weights is not None else section.subset_size
        if calib is not None and len(calib) < subset:
            result.warnings.append(f"{len(calib)} calibration samples, fewer than the subset size {subset}")
        facts = _compress(section, xml, io, calib, held, ctx)
        _copy_side_files(xml, ctx.model_dir)
        with ctx.step("inspect IRs"):
            before, after = describe_ir(xml), describe_ir(ctx.model_dir / "openvino_model.xml")
        _measure(section, xml, io, held, ctx, result)
        _fill(result, section, io, calib, held, facts, before, after)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _compress(section: QuantizeSection, xml: Path, io: Any, calib: Any, held: Any, ctx: StageContext) -> dict[str, Any]:
    """Run NNCF and save the result to OUT/model; returns what was done (for run.json)."""
    import openvino as ov

    from ovtool.backends.ir_info import read_model

    model = read_model(xml)
    facts: dict[str, Any] = {"method": section.method}
    if section.weights is not None:
        from ovtool.backends.nncf_weights import compress

        with ctx.step(f"nncf.compress_weights {section.weights.mode}"):
            compressed = compress(model, section.weights, calib.inputs if calib is not None else None)
    else:
        compressed = _ptq(section, model, io, calib, held, ctx, facts)
    ctx.model_dir.mkdir(parents=True, exist_ok=True)
    with ctx.step("save IR"):
        ov.save_model(compressed, str(ctx.model_dir / "openvino_model.xml"))
    return facts


def _ptq(section: QuantizeSection, model: Any, io: Any, calib: Any, held: Any, ctx: StageContext,
         facts: dict[str, Any]) -> Any:  # fmt: skip
    from ovtool.backends import nncf_ptq

    assert calib is not None
    extra: list[str] = []
    auto = section.ignored_scope.auto if section.ignored_scope is not None else None
    if auto is not None:
        with ctx.step(f"measure activation ranges ({len(calib)} samples)"):
            ranges = nncf_ptq.activation_ranges(model, calib.inputs[: section.subset_size], auto.types)
        kept = ranges[: auto.top_k]
        extra = [r.name for r in kept]
        facts["auto_ignored"] = [{"name": r.name, "type": r.type, "min": r.low, "max": r.high, "range": r.width}
                                 for r in kept]  # fmt: skip
        facts["activation_range_median"] = sorted(r.width for r in ranges)[len(ranges) // 2]
    if section.accuracy_control is None:
        with ctx.step(f"nncf.quantize {section.mode}"):
            return nncf_ptq.quantize(model, section, calib.inputs, extra)
    pairs, validation_fn = _accuracy_control_data(section, io, held, ctx)
    with ctx.step("nncf.quantize_with_accuracy_control"):
        quantized, reverted = nncf_ptq.quantize_with_accuracy_control(model, section, calib.inputs, pairs,
                                                                      validation_fn)  # fmt: skip
    facts["reverted_to_float"] = reverted
    return quantized


def _accuracy_control_data(section: QuantizeSection, io: Any, held: Any, ctx: StageContext) -> tuple[list, Any]:
    """(inputs, target) pairs and the validation function for the recipe's metric."""
    from ovtool.backends import quality

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
    reference = quality.outputs(quality.compile_model(io.folder / "openvino_model.xml", "f32"), data.inputs)
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


def _measure(section: QuantizeSection, xml: Path, io: Any, held: Any, ctx: StageContext, result: StageResult) -> None:
    """Quality on held-out samples and a short speed ratio; numbers go to result.details['quality']."""
    from ovtool.backends import quality

    q = section.quality
    new_xml = ctx.model_dir / "openvino_model.xml"
    measured: dict[str, Any] = {}
    if io.kind == "llm":
        with ctx.step(f"perplexity on {len(held)} held-out chunks (f32)"):
            measured["perplexity_original"] = quality.perplexity(quality.compile_model(xml, q.inference_precision),
                                                                 held.inputs)  # fmt: skip
            measured["perplexity_compressed"] = quality.perplexity(
                quality.compile_model(new_xml, q.inference_precision), held.inputs
            )
        prompts = _prompts(held, io, q.prompts)
        if prompts and _has_tokenizer_ir(xml.parent):
            with ctx.step(f"greedy generations on {len(prompts)} prompts"):
                agreement = quality.generation_agreement(xml.parent, ctx.model_dir, prompts, q.max_new_tokens,
                                                         q.embedding_model)  # fmt: skip
            measured["generation"] = agreement.__dict__
            if q.speed_seconds > 0:
                precisions = [_generate_precision(folder) for folder in (xml.parent, ctx.model_dir)]
                with ctx.step("tokens/s of both (the precision `ovtool generate` picks for each)"):
                    rates = quality.llm_tokens_per_s_pair([xml.parent, ctx.model_dir], prompts[:3], 64, precisions)
                    measured["tokens_per_s_original"], measured["tokens_per_s_compressed"] = rates
                measured["tokens_per_s_precisions"] = [p or "default" for p in precisions]
        elif prompts:
            result.warnings.append("no tokenizer IR beside the model: generation agreement and tokens/s not measured")
    else:
        with ctx.step(f"outputs on {len(held)} held-out samples (f32)"):
            ref = quality.outputs(quality.compile_model(xml, q.inference_precision), held.inputs)
            got = quality.outputs(quality.compile_model(new_xml, q.inference_precision), held.inputs)
            measured["outputs"] = quality.compare_outputs(ref, got, held.labels).__dict__
        if q.speed_seconds > 0:
            with ctx.step("throughput of both"):
                # the original at the device default and at f32 (when the default is not f32), interleaved
                speeds = quality.throughput_pair([xml, new_xml, xml], held.inputs[0], q.speed_seconds,
                                                 precisions=[None, None, "f32"])  # fmt: skip
                measured["speed_original"], measured["speed_compressed"] = speeds[0], speeds[1]
                if speeds[0]["precision"] != "f32":
                    measured["speed_original_f32"] = speeds[2]
    result.details["quality"] = measured


def _generate_precision(folder: Path) -> str | None:
    """What `ovtool generate` runs this IR with on CPU (auto): users deploy it that way, so time it that way."""
    from ovtool.backends.genai import choose_precision
    from ovtool.recipe.sections.generate import PerformanceSection

    return choose_precision(PerformanceSection(), "CPU", folder, exact_speculative=False)[0]


def _has_tokenizer_ir(folder: Path) -> bool:
    return (folder / "openvino_tokenizer.xml").exists() and (folder / "openvino_detokenizer.xml").exists()


def _prompts(held: Any, io: Any, count: int) -> list[str]:
    """The first 32 tokens of held-out chunks, decoded: continuation prompts the models never calibrated on."""
    from ovtool.data.calibration import _tokenizer

    chunks = held.info.get("token_chunks", [])[:count]
    if not chunks:
        return []
    tokenizer = _tokenizer(io.folder)
    return [tokenizer.decode(chunk[:32]) for chunk in chunks]


def _fill(result: StageResult, section: QuantizeSection, io: Any, calib: Any, held: Any, facts: dict[str, Any],
          before: dict[str, Any], after: dict[str, Any]) -> None:  # fmt: skip
    """Metrics, gate values, tables and the summary line from what was measured."""
    measured = result.details["quality"]
    m = result.metrics
    m["size_original_mb"] = Metric(round(before["size_bytes"] / 2**20, 2), "MiB", "original IR (.xml + .bin)")
    m["size_compressed_mb"] = Metric(round(after["size_bytes"] / 2**20, 2), "MiB", "compressed IR (.xml + .bin)")
    m["size_ratio"] = Metric(round(after["size_bytes"] / before["size_bytes"], 4), "x", "compressed / original size")
    headline = []
    rows: list[list[Any]] = []
    if io.kind == "llm":
        p0, p1 = measured["perplexity_original"], measured["perplexity_compressed"]
        inc = (p1 / p0 - 1) * 100
        m["perplexity_original"] = Metric(round(p0, 4), "ppl", f"{len(held)} held-out chunks, f32")
        m["perplexity_compressed"] = Metric(round(p1, 4), "ppl", f"{len(held)} held-out chunks, f32")
        m["perplexity_increase_pct"] = Metric(round(inc, 3), "%", "compressed vs original perplexity")
        result.gate_values["perplexity_increase_pct"] = inc
        rows.append(["perplexity (held-out)", round(p0, 3), round(p1, 3), f"{inc:+.2f}%"])
        headline.append(f"perplexity {p0:.2f} → {p1:.2f} ({inc:+.1f}%)")
        gen = measured.get("generation")
        if gen:
            m["token_match_rate"] = Metric(round(gen["token_match_rate"], 4), "ratio",
                                           "greedy tokens equal to the original's, position by position")  # fmt: skip
            rows.append(["greedy token match rate", 1.0, round(gen["token_match_rate"], 4), ""])
            if gen["embedding_similarity"] is not None:
                m["generation_similarity"] = Metric(round(gen["embedding_similarity"], 4), "cosine",
                                                    "sentence-embedding similarity of the answers")  # fmt: skip
                result.gate_values["similarity"] = gen["embedding_similarity"]
                rows.append(["answer embedding similarity", 1.0, round(gen["embedding_similarity"], 4), ""])
            result.tables.append(Table("Greedy generations (first prompts)", ["prompt", "original", "compressed"],
                                       [[_cell(e["prompt"]), _cell(e["original"]), _cell(e["compressed"])]
                                        for e in gen["examples"]]))
        if "tokens_per_s_original" in measured:
            t0, t1 = measured["tokens_per_s_original"], measured["tokens_per_s_compressed"]
            p0, p1 = measured["tokens_per_s_precisions"]
            m["tokens_per_s_original"] = Metric(round(t0, 2), "tokens/s", f"greedy decode, {p0} precision")
            m["tokens_per_s_compressed"] = Metric(round(t1, 2), "tokens/s", f"greedy decode, {p1} precision")
            m["speedup"] = Metric(round(t1 / t0, 3), "x", "tokens/s compressed / original (same run)")
            result.gate_values["speedup"] = t1 / t0
            headline.append(f"{t1 / t0:.2f}x tokens/s")
    else:
        out = measured["outputs"]
        m["output_similarity"] = Metric(round(out["similarity_mean"], 5), "cosine",
                                        f"mean over {len(held)} held-out samples, f32")  # fmt: skip
        m["output_similarity_min"] = Metric(round(out["similarity_min"], 5), "cosine", "worst held-out sample")
        result.gate_values["similarity"] = out["similarity_mean"]
        rows.append(["output cosine similarity (mean)", 1.0, round(out["similarity_mean"], 5), ""])
        if out["accuracy_original"] is not None:
            a0, a1 = out["accuracy_original"] * 100, out["accuracy_compressed"] * 100
            m["accuracy_original"] = Metric(round(a0, 3), "%", f"{len(held)} held-out samples, f32")
            m["accuracy_compressed"] = Metric(round(a1, 3), "%", f"{len(held)} held-out samples, f32")
            m["accuracy_drop"] = Metric(round(a0 - a1, 3), "points", "original - compressed accuracy")
            m["f1_compressed"] = Metric(round(out["f1_compressed"], 4), "macro F1", "held-out samples")
            result.gate_values["accuracy_drop"] = a0 - a1
            rows.append(["accuracy %", round(a0, 2), round(a1, 2), f"{a1 - a0:+.2f} points"])
            rows.append(["macro F1", round(out["f1_original"], 4), round(out["f1_compressed"], 4), ""])
            headline.append(f"accuracy {a0:.1f}% → {a1:.1f}%")
        else:
            headline.append(f"output similarity {out['similarity_mean']:.4f}")
        if "speed_original" in measured:
            _speed_metrics(result, measured, section.quality.speed_baseline, headline, rows)
    result.tables.append(Table("Quality on held-out samples", ["metric", "original", "compressed", "change"], rows))
    result.tables.append(_precision_table(before, after))
    if facts.get("auto_ignored"):
        result.tables.append(Table("Kept in float: widest activation ranges (ignored_scope.auto)",
                                   ["layer", "type", "min", "max", "range"],
                                   [[r["name"], r["type"], round(r["min"], 3), round(r["max"], 3), round(r["range"], 3)]
                                    for r in facts["auto_ignored"]]))  # fmt: skip
    if "reverted_to_float" in facts:
        result.tables.append(Table("Reverted to float by accuracy control", ["operation"],
                                   [[n] for n in facts["reverted_to_float"]] or [["(none)"]]))  # fmt: skip
    data_rows = []
    for role, sset in (("calibration", calib), ("held-out evaluation", held)):
        if sset is not None:
            info = sset.info
            data_rows.append([role, info.get("path") or "synthetic", info.get("format") or "-",
                              info.get("split") or "-", info.get("samples"), bool(info.get("synthetic"))])  # fmt: skip
    result.tables.append(Table("Data", ["role", "source", "format", "split", "samples", "synthetic"], data_rows))
    synthetic = any(s is not None and s.info.get("synthetic") for s in (calib, held))
    if synthetic:
        result.warnings.append("synthetic (random) data was used as the recipe asked: quality figures are not "
                               "representative of real inputs")  # fmt: skip
    result.details |= {
        **facts,
        "model_kind": io.kind,
        "synthetic_data": synthetic,
        "calibration": _info(calib),
        "evaluation": _info(held),
        "original_ir": {k: before[k] for k in ("weight_precisions", "size_bytes")},
        "compressed_ir": {k: after[k] for k in ("weight_precisions", "size_bytes", "inputs", "outputs")},
    }
    what = section.weights.mode if section.weights is not None else f"{section.mode} PTQ"
    result.summary = f"quantized ({what}): " + ", ".join(headline) + f", size {after['size_bytes'] / 2**20:.1f} MiB"


def _speed_metrics(result: StageResult, measured: dict[str, Any], baseline: str, headline: list[str],
                   rows: list[list[Any]]) -> None:  # fmt: skip
    """Throughput of the compressed IR against the original at the default precision and, where that is not
    f32, at f32 too: on CPUs with AMX/AVX512-BF16 the fp IR runs bf16 by default, nearly as fast as INT8."""
    m = result.metrics
    s0, s1 = measured["speed_original"], measured["speed_compressed"]
    f32 = measured.get("speed_original_f32")
    m["throughput_original"] = Metric(round(s0["fps"], 2), "inferences/s", f"{s0['precision']}, THROUGHPUT")
    m["throughput_compressed"] = Metric(round(s1["fps"], 2), "inferences/s", f"{s1['precision']}, THROUGHPUT")
    m["speedup_vs_default"] = Metric(round(s1["fps"] / s0["fps"], 3), "x",
                                     f"compressed / original, both at the default ({s0['precision']})")  # fmt: skip
    rows.append([f"throughput, inferences/s ({s0['precision']})", round(s0["fps"], 1), round(s1["fps"], 1),
                 f"{s1['fps'] / s0['fps']:.2f}x"])  # fmt: skip
    base = s0
    if f32 is not None:
        m["throughput_original_f32"] = Metric(round(f32["fps"], 2), "inferences/s", "original at f32, THROUGHPUT")
        m["speedup_vs_f32"] = Metric(round(s1["fps"] / f32["fps"], 3), "x",
                                     f"compressed ({s1['precision']}) / original executed in f32")  # fmt: skip
        rows.append(["throughput, inferences/s (original at f32)", round(f32["fps"], 1), round(s1["fps"], 1),
                     f"{s1['fps'] / f32['fps']:.2f}x"])  # fmt: skip
        if baseline == "f32":
            base = f32
    speedup = s1["fps"] / base["fps"]
    m["speedup"] = Metric(round(speedup, 3), "x", f"throughput compressed / original at {base['precision']} "
                          "(quality.speed_baseline; gate min_speedup)")  # fmt: skip
    result.gate_values["speedup"] = speedup
    others = "" if f32 is None else f" ({s1['fps'] / s0['fps']:.2f}x vs {s0['precision']}, " \
        f"{s1['fps'] / f32['fps']:.2f}x vs f32)"  # fmt: skip
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
