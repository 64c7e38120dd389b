"""The convert stage: any supported source → OpenVINO IR in OUT/model, described and measured."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ovtool.context import Pending, StageContext
from ovtool.errors import UserError
from ovtool.extras import require_for_source
from ovtool.ir_folder import MODEL_XML, TOKENIZER_XMLS, IRFolder
from ovtool.model_files import detect_format, find_ir_xml
from ovtool.recipe.sections.convert import ConvertSection
from ovtool.results import Metric, StageResult, Table
from ovtool.stages.base import Stage
from ovtool.stages.source_check import gguf_file

FILE_FORMATS = ("onnx", "tflite", "tf", "paddle", "pytorch")
GROUPED_DEFAULT_128 = ("int4_sym", "int4_asym", "nf4")  # NNCF's group size when none is given


def check_options(section: ConvertSection, fmt: str) -> None:
    """Option combinations that cannot work for this source format (caught before any work)."""
    if section.task and fmt not in ("hf", "gguf"):
        raise UserError(f"convert.task applies to Hugging Face and GGUF models, not to {fmt}")
    if section.inputs and fmt == "gguf":
        raise UserError(f"convert.inputs applies to Hugging Face, ONNX, TFLite, TF, Paddle and PyTorch models, "
                        f"not to {fmt}")  # fmt: skip
    if section.trust_remote_code and fmt != "hf":
        raise UserError(f"convert.trust_remote_code applies to Hugging Face models, not to {fmt}")
    hf_only = [k for k in ("library", "variant") if getattr(section, k) is not None]
    if hf_only and fmt != "hf":
        raise UserError(f"convert.{hf_only[0]} applies to Hugging Face models, not to {fmt}")
    llm_only = [k for k in ("pad_token_id",) if getattr(section, k) is not None]
    llm_only += [k for k in ("stateful", "convert_tokenizer") if not getattr(section, k)]
    if llm_only and fmt not in ("hf", "gguf"):
        raise UserError(f"convert.{llm_only[0]} applies to Hugging Face and GGUF models, not to {fmt}")


def preflight(section: ConvertSection, ctx: StageContext) -> None:
    source = ctx.input.model
    if source is None or isinstance(source, Pending):
        return
    fmt = detect_format(source, section.source_format)
    check_options(section, fmt)
    require_for_source(fmt)  # HF/GGUF/PyTorch sources need ovtool[hf]: exit 2 now, not an ImportError later
    if fmt == "gguf":
        gguf_file(source)  # a corrupt GGUF fails here, in a second, not after loading weights
    spec = section.weights_spec()
    if section.dataset is not None:
        _check_dataset(section)
    xml = find_ir_xml(Path(source)) if fmt == "ir" else None
    if section.postprocess is not None:
        _check_postprocess(section, source, fmt, xml)
    if spec is not None and xml is not None:
        _check_group_size(xml, spec)
    elif spec is not None:
        _check_group_size_from_config(source, fmt, spec)


def _check_group_size_from_config(source: str, fmt: str, spec: Any) -> None:
    """A group size that does not divide an LLM's hidden or MLP size fails here, not after minutes of export."""
    group = spec.group_size if spec.group_size is not None else 128 if spec.mode in GROUPED_DEFAULT_128 else None
    if group in (None, -1) or spec.group_size_fallback not in (None, "error"):
        return
    sizes: list[object] = []
    if fmt == "gguf":
        from ovtool.backends.optimum.gguf import read_gguf_metadata

        meta = read_gguf_metadata(gguf_file(source))
        arch = meta["general.architecture"]
        sizes = [meta.get(f"{arch}.embedding_length"), meta.get(f"{arch}.feed_forward_length")]
    elif fmt == "hf" and (Path(source) / "config.json").is_file():
        import json

        config = json.loads((Path(source) / "config.json").read_text())
        sizes = [config.get("hidden_size"), config.get("intermediate_size")]
    bad = sorted({n for n in sizes if isinstance(n, int) and n > 0 and n % group})
    if bad:
        raise UserError(f"convert.group_size {group} does not divide the model's hidden/MLP sizes {bad}: choose a "
                        f"divisor of {bad[0]} or set convert.group_size_fallback: adjust (or ignore)")  # fmt: skip


def _check_postprocess(section: ConvertSection, source: str, fmt: str, xml: Path | None) -> None:
    """Post-processing that cannot apply fails before the export: an IR is checked as it is; a stateful
    LLM export is refused (openvino_genai reads its full logits); a file source is checked after conversion."""
    assert section.postprocess is not None
    if xml is not None:
        from ovtool.backends.openvino.ir_info import read_model
        from ovtool.backends.openvino.postprocess import check

        check(read_model(xml), section.postprocess)
        return
    causal = fmt == "gguf"
    if fmt == "hf" and (Path(source) / "config.json").is_file():
        from ovtool.model_files import hf_architectures

        causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in hf_architectures(Path(source)))
    if causal and section.stateful and (section.task is None or section.task.endswith("with-past")):
        raise UserError("convert.postprocess on a stateful LLM export: openvino_genai pipelines read its full "
                        "logits; set stateful: false (--disable-stateful)")  # fmt: skip


def _postprocess(out_dir: Path, section: ConvertSection, ctx: StageContext) -> dict[str, Any]:
    """Fold convert.postprocess into OUT/model/openvino_model.xml, in place."""
    from ovtool.backends.openvino.ir_info import read_model
    from ovtool.backends.openvino.ov_convert import save_ir
    from ovtool.backends.openvino.postprocess import apply

    assert section.postprocess is not None
    xml = IRFolder.at(out_dir).xml
    with ctx.step("post-processing in the graph (PrePostProcessor)"):
        model, done = apply(read_model(xml), section.postprocess)
        tmp = xml.with_name(xml.stem + ".postprocess.xml")
        save_ir(model, tmp, fp16=False)  # the weights keep the precision they already have
        del model
        tmp.replace(xml)
        tmp.with_suffix(".bin").replace(xml.with_suffix(".bin"))
    return done


def _check_dataset(section: ConvertSection) -> None:
    from ovtool.data.calibration import check_spec

    assert section.dataset is not None
    path = section.dataset.path
    if path is not None and not path.startswith("@dataset") and not Path(path).exists():
        raise UserError(f"convert.dataset.path: {path} not found")
    check_spec(section.dataset, "calibration")


def _check_group_size(xml: Path, spec: Any) -> None:
    """The quantize stage's check, its message naming convert's keys."""
    from ovtool.backends.nncf.nncf_weights import check_group_size

    try:
        check_group_size(xml, spec)
    except UserError as exc:
        raise UserError(str(exc).replace("quantize.weights.", "convert.")) from exc


def convert_to_ir(source: str, section: ConvertSection, out_dir: Path, ctx: StageContext) -> dict[str, Any]:
    """Convert `source` into `out_dir` (an IR folder); returns facts about how it was done."""
    fmt = detect_format(source, section.source_format)
    check_options(section, fmt)
    facts: dict[str, Any] = {"source": source, "source_format": fmt}
    if fmt in ("hf", "gguf"):
        facts |= _convert_hf_like(source, fmt, section, out_dir, ctx)
    elif fmt == "ir":
        facts |= _copy_ir(Path(source), section, out_dir, ctx)
    else:
        from ovtool.backends.openvino.ov_convert import convert_file, save_ir

        fp16 = section.weight_format in (None, "fp16")
        with ctx.step(f"convert {fmt} with openvino.convert_model"):
            model = convert_file(Path(source), fmt, section.inputs)
            save_ir(model, IRFolder.at(out_dir).xml, fp16=fp16)
        facts["weight_format"] = section.weight_format or "fp16"
        facts["weight_format_default"] = section.weight_format is None
    spec = section.weights_spec()
    if spec is not None:
        facts["weight_compression"] = _compress_weights(out_dir, section, spec, ctx)
        facts["weight_format"] = f"{section.weight_format} (nncf {spec.mode})"
    if section.postprocess is not None:
        facts["postprocess"] = _postprocess(out_dir, section, ctx)
    return facts


def _convert_hf_like(
    source: str, fmt: str, section: ConvertSection, out_dir: Path, ctx: StageContext
) -> dict[str, Any]:
    from ovtool.backends.optimum.hf_export import export_hf

    facts: dict[str, Any] = {}
    hf_source = source
    scratch = out_dir.parent / f".{out_dir.name}-gguf-hf"
    try:
        if fmt == "gguf":
            from ovtool.backends.optimum.gguf import gguf_to_hf_folder

            gguf = gguf_file(source)
            with ctx.step("read GGUF into a Hugging Face model (tokenizer from GGUF metadata)"):
                try:
                    facts["gguf"] = gguf_to_hf_folder(gguf, scratch)
                except ValueError as exc:
                    raise UserError(str(exc)) from exc
            hf_source = str(scratch)
        with ctx.step("export with optimum-intel"):
            facts |= export_hf(
                hf_source,
                out_dir,
                task=section.task,
                trust_remote_code=section.trust_remote_code,
                # a compressed format is applied by ovtool after a plain fp32 export (optimum would
                # otherwise compress models over 1B parameters to int8 on its own first)
                dtype=section.weight_format if section.weight_format in ("fp16", "fp32")
                else None if section.weight_format is None else "fp32",
                library=section.library,
                stateful=section.stateful,
                convert_tokenizer=section.convert_tokenizer,
                pad_token_id=section.pad_token_id,
                variant=section.variant,
            )
        if fmt == "hf" and section.inputs:
            from ovtool.backends.optimum.hf_export import make_static

            with ctx.step("set static input shapes"):
                facts["static_inputs"] = make_static(IRFolder.at(out_dir).xml, section.inputs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    facts["weight_format"] = section.weight_format or "fp32 (optimum-cli default; int8 above 1B parameters)"
    facts["weight_format_default"] = section.weight_format is None
    return facts


def _copy_ir(source: Path, section: ConvertSection, out_dir: Path, ctx: StageContext) -> dict[str, Any]:
    """An IR input is re-saved (so fp16 can apply) with the files beside it (tokenizers, configs)."""
    from ovtool.backends.openvino.ir_info import read_model
    from ovtool.backends.openvino.ov_convert import save_ir

    ir = IRFolder.find(source)
    if ir is None:
        raise UserError(f"no IR .xml found at {source}")
    xml = ir.xml
    with ctx.step("re-save IR"):
        if source.is_dir():
            _copy_folder(ir.root, out_dir)  # an OUT's model/, not the OUT itself
        save_ir(read_model(xml), IRFolder.at(out_dir).xml, fp16=section.weight_format == "fp16")
        if xml.name != MODEL_XML and (out_dir / xml.name).exists():
            (out_dir / xml.name).unlink()
            (out_dir / xml.with_suffix(".bin").name).unlink(missing_ok=True)
    return {"weight_format": section.weight_format or "as in the source IR"}


def _copy_folder(source: Path, out_dir: Path) -> None:
    """Copy the files beside an IR; on a full disk say how much the copy needed."""
    from ovtool.error_map import is_no_space, no_space_error

    try:
        shutil.copytree(source, out_dir, dirs_exist_ok=True)
    except OSError as exc:
        if is_no_space(exc):
            needed = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
            raise no_space_error(out_dir, needed) from exc
        raise


def _compress_weights(out_dir: Path, section: ConvertSection, spec: Any, ctx: StageContext) -> dict[str, Any]:
    """nncf.compress_weights on every model IR in `out_dir` (not tokenizers), in place, as optimum-cli's
    --weight-format does after export; returns how it was done, for run.json."""
    from ovtool.backends.nncf.nncf_weights import compress
    from ovtool.backends.openvino.ir_info import describe_ir, read_model
    from ovtool.backends.openvino.ov_convert import save_ir

    xmls = [x for x in sorted(out_dir.glob("openvino_*.xml")) if x.name not in TOKENIZER_XMLS]
    if section.dataset is not None and len(xmls) > 1:
        raise UserError(f"convert.dataset: data-aware compression of a model exported as {len(xmls)} IRs "
                        f"({', '.join(x.name for x in xmls)}) is not supported: leave out dataset")  # fmt: skip
    items = None
    done: dict[str, Any] = {"tool": "nncf.compress_weights", **spec.model_dump(mode="json", exclude_none=True)}
    if section.dataset is not None:
        from ovtool.data.calibration import calibration_and_evaluation
        from ovtool.data.model_inputs import describe_inputs

        io = describe_inputs(xmls[0], describe_ir(xmls[0]))
        seed = section.dataset.seed if section.dataset.seed is not None else 0  # convert's output ignores the run seed
        with ctx.step("load calibration data"):
            calib, _ = calibration_and_evaluation(section.dataset, None, io, calib_count=spec.subset_size,
                                                  eval_count=1, seed=seed)  # fmt: skip
        assert calib is not None
        items = calib.inputs
        done["calibration"] = {"path": section.dataset.path, "samples": len(items), "seed": seed}
    else:
        done.pop("subset_size", None)
    for xml in xmls:
        _check_group_size(xml, spec)
        with ctx.step(f"nncf.compress_weights {spec.mode} ({xml.name})"):
            compressed = compress(read_model(xml), spec, items)
            tmp = xml.with_name(xml.stem + ".compressed.xml")
            save_ir(compressed, tmp, fp16=False)  # as optimum-cli: the uncompressed rest keeps its precision
            del compressed
            tmp.replace(xml)
            tmp.with_suffix(".bin").replace(xml.with_suffix(".bin"))
    done["ir_files"] = [x.name for x in xmls]
    done["data_aware"] = items is not None
    return done


def ensure_ir(source: str, work_dir: Path, ctx: StageContext, section: ConvertSection | None = None) -> Path:
    """The IR .xml for `source`, converting it into `work_dir` first when it is not an IR already.

    Stages that need an IR (quantize, benchmark, generate) call this with their input.
    """
    path = Path(source)
    xml = find_ir_xml(path) if path.exists() else None
    if xml is not None:
        return xml
    convert_to_ir(source, section or ConvertSection(), work_dir, ctx)
    return IRFolder.at(work_dir).xml


def run(section: ConvertSection, ctx: StageContext) -> StageResult:
    from ovtool.backends.openvino.ir_info import describe_ir

    source = ctx.input.model_path
    out_dir = ctx.model_dir
    facts = convert_to_ir(source, section, out_dir, ctx)
    with ctx.step("inspect IR"):
        ir = describe_ir(IRFolder.at(out_dir).xml)
    tokenizer = IRFolder.at(out_dir).has_tokenizer
    total_size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    work_steps = [s for s in ctx.steps if s.name != "inspect IR"]
    result = StageResult(stage="convert", model_dir=out_dir)
    if str(facts.get("task", "")).startswith("text-generation") and not tokenizer and section.convert_tokenizer:
        # optimum logs a failed tokenizer conversion only at debug level: say it where users look
        result.warnings.append(
            "no tokenizer/detokenizer IR was produced (openvino_tokenizers could not convert this tokenizer); "
            "openvino_genai pipelines will not load OUT/model"
        )
    result.metrics = {
        "conversion_time_s": Metric(round(sum(s.seconds for s in work_steps), 3), "s", "wall time of the conversion"),
        "conversion_peak_rss_mb": Metric(
            round(max(s.peak_rss_bytes for s in work_steps) / 2**20, 1), "MiB", "peak resident memory while converting"
        ),
        "ir_size_mb": Metric(round(ir["size_bytes"] / 2**20, 2), "MiB", "openvino_model.xml + .bin"),
        "model_dir_size_mb": Metric(round(total_size / 2**20, 2), "MiB", "everything in OUT/model"),
        "weight_elements": Metric(ir["weight_elements"], "elements", "weights (constants of 16+ elements)"),
    }
    result.details = facts | {"ir": ir, "tokenizer_ir": tokenizer}
    result.tables = [
        Table("Inputs and outputs", ["kind", "name", "shape", "type"],
              [["input", p["name"], p["shape"], p["type"]] for p in ir["inputs"]]
              + [["output", p["name"], p["shape"], p["type"]] for p in ir["outputs"]]),
        Table("Weight precisions", ["element type", "elements", "share"],
              [[k, v, f"{v / max(ir['weight_elements'], 1):.1%}"] for k, v in ir["weight_precisions"].items()]),
        *([Table("Post-processing in the graph", ["output", "was", "last token", "topk", "softmax", "new outputs"],
                 [[pp["output"], pp["shape_before"], pp["last_token"], pp["topk"] or "-", pp["softmax"],
                   ", ".join(f"{o['name']} {o['shape']} {o['type']}" for o in pp["outputs"])]])]
          if (pp := facts.get("postprocess")) else []),
        Table("Source", ["what", "value"],
              [["source", facts["source"]], ["detected format", facts["source_format"]],
               ["task", facts.get("task", "-")], ["weight format", facts.get("weight_format")],
               ["stateful (KV cache inside)", ir["stateful"]], ["tokenizer IR", tokenizer]]),
    ]  # fmt: skip
    result.summary = (
        f"converted {facts['source_format']} {source} → {out_dir.name}/openvino_model.xml "
        f"({ir['size_bytes'] / 2**20:.1f} MiB, {ir['weight_elements'] / 1e6:.1f}M weights)"
    )
    return result


STAGE = Stage(name="convert", section_type=ConvertSection, preflight=preflight, run=run, optional_section=True,
              cache="artifact", seeded=False,
              libraries=("openvino", "openvino-tokenizers", "optimum-intel", "optimum", "transformers", "tokenizers",
                         "torch", "nncf", "gguf"))  # fmt: skip
