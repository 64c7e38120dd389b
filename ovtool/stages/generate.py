"""The generate stage: prompts → text with openvino_genai, measured (TTFT, TPOT, tokens/s, peak RSS).

With `speculative:` the same prompts are also decoded plainly in the same run, so the report
gives the speedup and acceptance rate measured side by side, never assumed. `generate --chat` uses the
same model resolution and precision choice (`prepare`) through `ovtool.stages.generate_session`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool import console, fast_exit
from ovtool.backends.genai.genai import ItemResult, check_tokenizer_ir
from ovtool.context import Pending, StageContext
from ovtool.errors import UserError, shorten
from ovtool.model_files import detect_format, find_ir_xml
from ovtool.recipe.sections.convert import ConvertSection
from ovtool.recipe.sections.generate import GenerateSection
from ovtool.results import Metric, StageResult, Table
from ovtool.stages.base import Stage
from ovtool.stages.generate_figures import COLD_FIGURES, WARM_FIGURES, DecodePass, speed_metrics
from ovtool.stages.precision import choice_for

OUTPUTS_FILE = "outputs.jsonl"
LLM_SOURCES = ("hf", "gguf", "ir")  # what can be (or become) an IR with tokenizer IRs
NO_PROMPT = "no prompt: pass -p PROMPT, -p - (stdin), --prompt-file FILE, --prompts FILE.jsonl, or --chat"


@dataclass
class PromptItem:
    prompt: str
    id: Any = None


def _read_text(path_text: str, what: str) -> str:
    path = Path(path_text)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder: give a file")
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} {path} is not UTF-8 text") from exc


def load_prompts(section: GenerateSection) -> list[PromptItem]:
    """The prompts to run, from exactly one source; empty sources are errors, not silent no-ops."""
    if section.prompt is not None:
        return [PromptItem(section.prompt)]
    if section.prompt_file is not None:
        text = _read_text(section.prompt_file, "prompt file")
        if not text.strip():
            raise UserError(f"prompt file {section.prompt_file} is empty: put the prompt in it")
        return [PromptItem(text.rstrip("\n"))]
    if section.prompts is not None:
        return _prompts_file(section.prompts)
    raise UserError(NO_PROMPT)


def _prompts_file(path_text: str) -> list[PromptItem]:
    """.jsonl: {"prompt": …, "id": …} objects or JSON strings; anything else: one prompt per line."""
    text = _read_text(path_text, "prompts file")
    items: list[PromptItem] = []
    jsonl = path_text.endswith(".jsonl")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not jsonl:
            items.append(PromptItem(line))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path_text} line {number}: not JSON ({exc.msg})") from exc
        if isinstance(record, dict):
            prompt = record.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise UserError(f'{path_text} line {number}: needs a non-empty "prompt" string')
            items.append(PromptItem(prompt, record.get("id")))
        elif isinstance(record, str) and record.strip():
            items.append(PromptItem(record))
        else:
            raise UserError(f'{path_text} line {number}: expected a {{"prompt": …}} object or a JSON string')
    if not items:
        raise UserError(f"prompts file {path_text} has no prompts")
    return items


def check_model_source(source: str, what: str = "model", convert: ConvertSection | None = None) -> None:
    """An IR given directly must carry its tokenizer IRs; a GGUF or HF LLM is converted (with them);
    ONNX, TFLite, TF, Paddle and PyTorch files never come with a tokenizer, so they are refused here."""
    from ovtool.stages.source_check import check_source

    path = Path(source)
    if not path.exists():
        try:
            detect_format(source)
        except UserError as exc:
            raise UserError(f"{what}: {exc}") from exc
        return
    xml = find_ir_xml(path)
    if xml is not None:  # read as it is: the checks below are for a conversion (and cost generate's start-up)
        check_tokenizer_ir(xml.parent)
        return
    fmt = check_source(source, convert)
    if fmt not in LLM_SOURCES:
        raise UserError(
            f"{what}: {shorten(source)} ({fmt}) has no tokenizer to convert: generate needs an LLM "
            "(a GGUF, a Hugging Face causal LM folder or hub id, or an IR `ovtool convert` made of one)"
        )
    if fmt == "hf" and path.is_dir() and (convert is None or convert.task is None):
        _check_generative(path, what)


def _check_generative(folder: Path, what: str) -> None:
    """A Hugging Face encoder or classifier (BertModel…) exports without an LM head: refuse it before the export."""
    from ovtool.model_files import GENERATIVE_ARCHITECTURES, hf_architectures

    archs = hf_architectures(folder)
    if archs and not any(a.endswith(GENERATIVE_ARCHITECTURES) for a in archs):
        raise UserError(
            f"{what}: {shorten(str(folder))} is a {', '.join(archs)} (config.json architectures), not a text "
            "generation model: generate needs a causal LM (…ForCausalLM); set convert.task if it is one"
        )


def check_models(section: GenerateSection, ctx: StageContext) -> None:
    """The model and the draft exist (or are convertible) and carry tokenizer IRs; prompts not checked.

    `generate --chat` runs only this: its prompts come interactively.
    """
    model = ctx.input.model
    if model is not None and not isinstance(model, Pending):  # an earlier stage's output is checked by it
        check_model_source(model, convert=ctx.input.convert)
    if section.speculative is not None and section.speculative.draft is not None:
        check_model_source(section.speculative.draft, "speculative.draft", ctx.input.convert)


def preflight(section: GenerateSection, ctx: StageContext) -> None:
    load_prompts(section)
    check_models(section, ctx)
    check_adapters(section, ctx)


def check_adapters(section: GenerateSection, ctx: StageContext, model_dir: Path | None = None) -> list[Any]:
    """The LoRA adapters, read and checked against the IR when it is known (else at run, once converted).

    openvino_genai would skip an adapter that fits no layer and fail deep inside on wrong shapes:
    exit 2 naming the file, before a pipeline is built (ovtool/backends/genai/adapters.py).
    """
    if not section.adapters:
        return []
    from ovtool.backends.genai.adapters import check_adapters as check

    if model_dir is None:
        model = ctx.input.model
        model_dir = Path(model) if isinstance(model, str) and Path(model).exists() else None
    xml = find_ir_xml(model_dir) if model_dir is not None else None
    return check([(item.path, item.alpha) for item in section.adapters], xml)


def resolve_ir(source: str, work_dir: Path, ctx: StageContext,
               convert: ConvertSection | None) -> tuple[Path, bool]:  # fmt: skip
    """(IR folder, converted?) — non-IR sources are converted into work_dir (published in OUT)."""
    from ovtool.stages.convert import ensure_ir

    path = Path(source)
    already_ir = path.exists() and find_ir_xml(path) is not None
    xml = ensure_ir(source, work_dir, ctx, convert)
    check_tokenizer_ir(xml.parent)
    return xml.parent, not already_ir


@dataclass
class Prepared:
    """What decoding needs before a pipeline is built: IR folders and device properties (and why)."""

    model_dir: Path
    converted: bool  # the input was converted into ctx.model_dir (so OUT/model holds it)
    draft_dir: Path | None
    props: dict[str, Any]
    precision_reason: str
    precision_choice: dict[str, Any] = field(default_factory=dict)  # settings + source ("stored", "rule"…)
    adapters: list[Any] = field(default_factory=list)  # AppliedAdapter: LoRA checked against this IR


def prepare(section: GenerateSection, ctx: StageContext) -> Prepared:
    """Resolve the model (and draft) to IRs and choose the inference precision — shared by run and chat."""
    from ovtool.backends.genai import genai

    model_dir, converted = resolve_ir(ctx.input.model_path, ctx.model_dir, ctx, ctx.input.convert)
    spec = section.speculative
    draft_dir = None
    if spec is not None and spec.draft is not None:
        draft_dir, _ = resolve_ir(spec.draft, ctx.work_dir / "draft", ctx, ctx.input.convert)
    choice = choice_for(section, model_dir)  # a stored `ovtool tune` choice, or the rule (docs/tune.md)
    console.detail(f"inference precision: {choice.precision or 'device default'} ({choice.why})")
    props = genai.device_properties(section.performance, choice.precision) | choice.properties
    adapters = check_adapters(section, ctx, model_dir)
    return Prepared(model_dir, converted, draft_dir, props, choice.why, choice.record(), adapters)


def run(section: GenerateSection, ctx: StageContext) -> StageResult:
    items = load_prompts(section)
    ready = prepare(section, ctx)
    model_dir, props, spec = ready.model_dir, ready.props, section.speculative
    compare = spec is not None and spec.compare_plain
    prompts = [item.prompt for item in items]

    plain = None
    if compare:
        plain = _decode_pass(ctx, "plain decoding (baseline)", model_dir, section, props, prompts, warm=True,
                             last=False)  # fmt: skip
    kind_name = {None: "decode", "draft": "speculative decoding", "prompt_lookup": "prompt-lookup decoding"}
    main = _decode_pass(
        ctx, kind_name[_kind(section)], model_dir, section, props, prompts, warm=compare,
        draft_dir=ready.draft_dir, prompt_lookup=bool(spec and spec.prompt_lookup), adapters=ready.adapters,
    )  # fmt: skip
    result = _result(section, ctx, items, main, plain, props, model_dir if ready.converted else None)
    result.details["inference_precision_reason"] = ready.precision_reason
    result.details["precision_choice"] = ready.precision_choice
    result.details["adapters"] = [adapter.record() for adapter in ready.adapters]  # path, sha256, alpha
    if section.prompts is not None:
        _write_outputs(ctx.work_dir / OUTPUTS_FILE, items, main.stats.items)
        result.extra_files.append(OUTPUTS_FILE)
    console.info(_metrics_line(result))
    return result


def _kind(section: GenerateSection) -> str | None:
    spec = section.speculative
    if spec is None:
        return None
    return "draft" if spec.draft is not None else "prompt_lookup"


def _decode_pass(
    ctx: StageContext, name: str, model_dir: Path, section: GenerateSection, props: dict[str, Any],
    prompts: list[str], *, warm: bool, draft_dir: Path | None = None, prompt_lookup: bool = False,
    adapters: list[Any] | None = None,
    last: bool = True,
) -> DecodePass:  # fmt: skip
    """Load a pipeline, render the prompts, decode them all; the pipeline is freed afterwards (the last one
    only when the process goes on: an ending CLI process skips its teardown, ovtool/fast_exit.py)."""
    from ovtool.backends.genai import genai

    with ctx.step(f"load pipeline ({name})"):
        pipeline = genai.load_pipeline(model_dir, section.device, props, draft_dir=draft_dir,
                                       prompt_lookup=prompt_lookup, adapters=adapters or ())  # fmt: skip
    template = section.chat_template and genai.has_chat_template(pipeline)
    if section.chat_template and not template:
        console.warn("the model has no chat template: prompts go to it as given")
    cfg = genai.generation_config(pipeline, section, ctx.seed)
    rendered = [genai.render_prompt(pipeline, p, section.system_prompt, template) for p in prompts]
    if warm:
        genai.warm_up(pipeline, cfg, rendered[0], template)

    def progress(done: int, total: int) -> None:
        if total > 1:
            console.detail(f"  {done}/{total} prompts")

    with ctx.step(name):
        stats = genai.decode(pipeline, cfg, rendered, prompts, section.batch_size, template, progress)
    load_s = pipeline.load_s
    if last:
        fast_exit.keep(pipeline)
    del pipeline
    peak = max(step.peak_rss_bytes for step in ctx.steps[-2:])
    return DecodePass(stats=stats, chat_template_applied=template, peak_rss_bytes=peak, load_s=load_s, warmed=warm)


def _peak_rss_mb(*passes: DecodePass | None) -> float:
    return round(max(p.peak_rss_bytes for p in passes if p is not None) / 2**20, 1)


def _result(
    section: GenerateSection, ctx: StageContext, items: list[PromptItem], main: DecodePass,
    plain: DecodePass | None, props: dict[str, Any], converted_dir: Path | None,
) -> StageResult:  # fmt: skip
    from ovtool.backends.openvino.ov_bench import device_default_precision

    stats = main.stats
    ttft = sum(stats.ttft_ms) / len(stats.ttft_ms)
    result = StageResult(stage="generate", model_dir=converted_dir)
    result.metrics = speed_metrics(main) | {
        "generated_tokens": Metric(stats.generated_tokens, "tokens", "new tokens, all prompts"),
        "input_tokens": Metric(stats.input_tokens, "tokens", "prompt tokens after templating, all prompts"),
        "peak_rss_mb": Metric(_peak_rss_mb(main, plain), "MiB", "peak resident memory (load + generate)"),
        "prompts": Metric(len(items), "prompts", ""),
    }
    result.gate_values = {"tokens_per_s": stats.tokens_per_s, "ttft_ms": ttft}
    kind = _kind(section)
    precision = props.get("INFERENCE_PRECISION_HINT") or device_default_precision(section.device)
    result.details = {
        "model": str(converted_dir or ""), "device": section.device, "device_properties": props,
        "inference_precision": precision, "chat_template_applied": main.chat_template_applied,
        "decoding": kind or "plain", "sampling": "multinomial" if section.do_sample else "greedy",
        "seed": ctx.seed, "batch_size": section.batch_size,
        "speed_figures": {"cold": [] if main.warmed else list(COLD_FIGURES), "warm": list(WARM_FIGURES),
                          "prefill": ["prefill_tokens_per_s"], "load": ["load_s"]},
    }  # fmt: skip
    if kind is not None:
        _speculative_metrics(result, section, main, plain)
    rows = [[i, it.input_tokens, it.output_tokens, it.ttft_ms, it.tpot_ms, it.finish_reason, _short(it.text)]
            for i, it in enumerate(stats.items[:20])]  # fmt: skip
    result.tables.append(Table("Outputs (first 20)", ["#", "in tokens", "out tokens", "TTFT ms", "TPOT ms",
                                                      "finish", "text"], rows))  # fmt: skip
    if section.prompts is None:
        result.stdout_text = stats.items[0].text
    else:
        result.stdout_text = "\n".join(json.dumps(_record(item, out)) for item, out in zip(items, stats.items,
                                                                                           strict=True))  # fmt: skip
    result.summary = (f"generated {stats.generated_tokens} tokens at {stats.tokens_per_s:.1f} tokens/s "
                      f"({'after warm-up' if main.warmed else 'cold'}), warm decode "
                      f"{result.metrics['decode_tokens_per_s'].value:.1f} tokens/s")  # fmt: skip
    return result


def _speculative_metrics(result: StageResult, section: GenerateSection, main: DecodePass,
                         plain: DecodePass | None) -> None:  # fmt: skip
    stats = main.stats
    result.metrics["tokens_per_target_step"] = Metric(
        round(stats.tokens_per_step, 3), "tokens/step", "new tokens per target-model inference (1.0 = no gain)"
    )
    if stats.acceptance_rate is not None:
        result.metrics["acceptance_rate"] = Metric(
            round(stats.acceptance_rate, 4), "ratio", "draft tokens accepted / draft tokens proposed"
        )
        result.metrics["accepted_tokens"] = Metric(stats.accepted_tokens, "tokens", "draft tokens accepted")
        result.metrics["draft_tokens"] = Metric(stats.draft_tokens, "tokens", "draft tokens proposed")
    if plain is None:
        return
    base = plain.stats
    speedup = stats.tokens_per_s / base.tokens_per_s if base.tokens_per_s else 0.0
    result.metrics["plain_tokens_per_s"] = Metric(round(base.tokens_per_s, 2), "tokens/s",
                                                  "plain decoding of the same prompts, same run")  # fmt: skip
    result.metrics["speedup"] = Metric(round(speedup, 3), "x", "tokens/s speculative / plain, same run")
    result.gate_values["speedup"] = speedup
    same = [a.text == b.text for a, b in zip(stats.items, base.items, strict=True)]
    result.details["identical_to_plain"] = all(same)
    result.details["identical_items"] = sum(same)
    if not section.do_sample and not all(same):
        hint = ""
        if result.details["device_properties"].get("INFERENCE_PRECISION_HINT") != "f32":
            hint = (" — the multi-token verification pass rounds differently in bf16 (this CPU's default), "
                    "which flips near-tied tokens; set generate.performance.inference_precision=f32 for an "
                    "exact comparison")  # fmt: skip
        result.warnings.append(f"greedy speculative output differs from plain output on "
                               f"{len(same) - sum(same)} of {len(same)} prompts{hint}")  # fmt: skip
    result.tables.append(Table("Speculative vs plain decoding (same prompts, same run)",
        ["decoding", "tokens/s", "TTFT ms", "TPOT ms", "tokens/target step", "acceptance"],
        [["plain", round(base.tokens_per_s, 2), round(sum(base.ttft_ms) / len(base.ttft_ms), 1),
          round(sum(base.tpot_ms) / len(base.tpot_ms), 2), round(base.tokens_per_step, 3), "-"],
         [_kind(section), round(stats.tokens_per_s, 2), round(sum(stats.ttft_ms) / len(stats.ttft_ms), 1),
          round(sum(stats.tpot_ms) / len(stats.tpot_ms), 2), round(stats.tokens_per_step, 3),
          "-" if stats.acceptance_rate is None else f"{stats.acceptance_rate:.1%}"]]))  # fmt: skip


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _record(item: PromptItem, out: ItemResult) -> dict[str, Any]:
    record: dict[str, Any] = {} if item.id is None else {"id": item.id}
    return record | {
        "prompt": item.prompt, "text": out.text, "input_tokens": out.input_tokens,
        "output_tokens": out.output_tokens, "ttft_ms": out.ttft_ms, "tpot_ms": out.tpot_ms,
        "generate_ms": out.generate_ms, "finish_reason": out.finish_reason, "batch": out.batch,
    }  # fmt: skip


def _write_outputs(path: Path, items: list[PromptItem], outs: list[ItemResult]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for item, out in zip(items, outs, strict=True):
            fh.write(json.dumps(_record(item, out), ensure_ascii=False) + "\n")


def _metrics_line(result: StageResult) -> str:
    m = result.metrics
    cold = "cold" if result.details.get("speed_figures", {}).get("cold") else "after warm-up"
    text = (f"{m['generated_tokens'].value} tokens in {m['generate_s'].value:.2f} s = "
            f"{m['tokens_per_s'].value:.1f} tokens/s ({cold}, TTFT {m['ttft_ms'].value:.0f} ms) · "
            f"warm decode {m['decode_tokens_per_s'].value:.1f} tokens/s (TPOT {m['tpot_ms'].value:.2f} ms) · "
            f"prefill {m['prefill_tokens_per_s'].value:.0f} tokens/s · load {m['load_s'].value:.2f} s · "
            f"peak RSS {m['peak_rss_mb'].value:.0f} MiB")  # fmt: skip
    if "speedup" in m:
        text += f" · speedup {m['speedup'].value:.2f}x vs plain {m['plain_tokens_per_s'].value:.1f} tokens/s"
    if "acceptance_rate" in m:
        text += f" · acceptance {m['acceptance_rate'].value:.1%}"
    return text


STAGE = Stage(name="generate", section_type=GenerateSection, preflight=preflight, run=run,
              needs_output=False, produces_model=False, optional_section=True, cache="measurement",
              libraries=("openvino", "openvino-genai", "openvino-tokenizers"))  # fmt: skip
