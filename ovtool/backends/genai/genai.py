"""openvino_genai: pipeline construction, generation config, batched decoding, chat streaming, metrics.

The only module that imports openvino_genai (inside functions). LLMPipeline does the tokenizing,
chat templating, sampling, stop strings, continuous batching and speculative / prompt-lookup
decoding; this module only maps recipe settings onto it and collects its PerfMetrics.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovtool.errors import UserError
from ovtool.ir_folder import IRFolder
from ovtool.recipe.sections.generate import GenerateSection, PerformanceSection

if TYPE_CHECKING:
    from ovtool.backends.genai.adapters import AppliedAdapter

DEFAULT_ASSISTANT_TOKENS = 5


def check_tokenizer_ir(model_dir: Path) -> None:
    """openvino_genai needs tokenizer and detokenizer IRs beside the model: say how to get them."""
    missing = IRFolder.at(model_dir).missing_tokenizer_files
    if missing:
        raise UserError(
            f"{model_dir} has no {' / '.join(missing)}: generate needs the tokenizer IRs — convert the "
            "model with `ovtool convert` (it writes them) or add them with openvino_tokenizers' "
            "`convert_tokenizer --with-detokenizer`"
        )


def device_properties(perf: PerformanceSection, inference_precision: str | None = None) -> dict[str, Any]:
    """Recipe performance settings → OpenVINO property names (precision as chosen by ovtool.stages.precision)."""
    props: dict[str, Any] = {}
    if perf.kv_cache_precision:
        props["KV_CACHE_PRECISION"] = perf.kv_cache_precision
    if perf.threads:
        props["INFERENCE_NUM_THREADS"] = perf.threads
    if perf.streams:
        props["NUM_STREAMS"] = perf.streams
    if perf.hint:
        props["PERFORMANCE_HINT"] = perf.hint.upper()
    if inference_precision:
        props["INFERENCE_PRECISION_HINT"] = inference_precision
    return props | dict(perf.properties)


# Integer weight element types: an IR mostly made of these was weight-compressed (NNCF / optimum).
COMPRESSED_WEIGHT_TYPES = frozenset({"i8", "u8", "i4", "u4", "nf4", "f4e2m1", "f8e4m3", "f8e5m2"})


def weights_compressed(model_dir: Path) -> bool:
    """True when most weight elements of the IR are stored in a compressed (integer/fp8/nf4) type.

    A fact about the IR; what to do about it (the precision choice) is decided in ovtool.stages.precision.
    Read from the IR's XML text (~50 ms) rather than `ov.Core().read_model` (~0.5-1 s for a 135M LLM,
    paid again by the pipeline right after): `ovtool generate` must cost no more than the plain library.
    """
    from ovtool.model_files import find_ir_xml

    xml = find_ir_xml(model_dir)
    if xml is None:
        return False
    mix = ir_weight_mix(xml)
    compressed = sum(n for kind, n in mix.items() if kind in COMPRESSED_WEIGHT_TYPES)
    return compressed * 2 > sum(mix.values())


_CONST = re.compile(r'<layer [^>]*type="Const"[^>]*>\s*<data ([^>]*)>')
_TYPE = re.compile(r'element_type="([^"]+)"')
_SHAPE = re.compile(r'shape="([^"]*)"')


def ir_weight_mix(xml: Path) -> dict[str, int]:
    """Weight elements per element type, from the Const layers of the IR's XML (no model is built).

    The same counts as `ir_info.weight_precisions(read_model(xml))` (tested); an XML this scan cannot
    read falls back to that.
    """
    from ovtool.backends.openvino.ir_info import MIN_WEIGHT_ELEMENTS, read_model, weight_precisions

    mix: dict[str, int] = {}
    for attrs in _CONST.findall(xml.read_text(encoding="utf-8", errors="replace")):
        kind, shape = _TYPE.search(attrs), _SHAPE.search(attrs)
        if kind is None or shape is None:
            return weight_precisions(read_model(xml))
        count = 1
        for dim in filter(None, (d.strip() for d in shape.group(1).split(","))):
            count *= int(dim)
        if count >= MIN_WEIGHT_ELEMENTS:
            mix[kind.group(1)] = mix.get(kind.group(1), 0) + count
    return mix or weight_precisions(read_model(xml))


@dataclass
class Pipeline:
    """An LLMPipeline and how it was built."""

    pipe: Any
    kind: str  # "plain", "draft" or "prompt_lookup"
    load_s: float


def load_pipeline(
    model_dir: Path,
    device: str,
    props: dict[str, Any],
    *,
    draft_dir: Path | None = None,
    prompt_lookup: bool = False,
    adapters: Sequence[AppliedAdapter] = (),
) -> Pipeline:
    """LLMPipeline for the model, with a draft model or prompt lookup when asked, and LoRA adapters."""
    import openvino_genai as ov_genai

    kwargs = dict(props)
    if adapters:  # openvino_genai transforms the model for them at build time: `adapters=` is required here
        from ovtool.backends.genai.adapters import adapter_config

        kwargs["adapters"] = adapter_config(adapters)
    kind = "plain"
    if draft_dir is not None:
        kwargs["draft_model"] = ov_genai.draft_model(str(draft_dir), device, **props)
        kind = "draft"
    elif prompt_lookup:
        kwargs["prompt_lookup"] = True
        kind = "prompt_lookup"
    start = time.perf_counter()
    pipe = ov_genai.LLMPipeline(str(model_dir), device, **kwargs)
    return Pipeline(pipe=pipe, kind=kind, load_s=time.perf_counter() - start)


def generation_config(pipeline: Pipeline, section: GenerateSection, seed: int) -> Any:
    """The model's generation_config.json defaults, overridden by the recipe."""
    cfg = pipeline.pipe.get_generation_config()
    cfg.max_new_tokens = section.max_new_tokens
    cfg.min_new_tokens = section.min_new_tokens
    cfg.do_sample = section.do_sample
    cfg.repetition_penalty = section.repetition_penalty
    cfg.rng_seed = seed
    cfg.apply_chat_template = False  # the prompt is rendered by render_prompt (system prompt included)
    if section.do_sample:
        if section.temperature is not None:
            cfg.temperature = section.temperature
        if section.top_k is not None:
            cfg.top_k = section.top_k
        if section.top_p is not None:
            cfg.top_p = section.top_p
    cfg.stop_strings = set(section.stop)
    cfg.include_stop_str_in_output = False
    spec = section.speculative
    if pipeline.kind != "plain" and spec is not None:
        if spec.assistant_confidence_threshold is not None:
            cfg.assistant_confidence_threshold = spec.assistant_confidence_threshold
        else:
            cfg.num_assistant_tokens = spec.num_assistant_tokens or DEFAULT_ASSISTANT_TOKENS
        if pipeline.kind == "prompt_lookup":
            cfg.max_ngram_size = spec.max_ngram_size
    try:
        cfg.validate()
    except RuntimeError as exc:
        raise UserError(f"generate: invalid generation settings: {str(exc).strip().splitlines()[-1]}") from exc
    return cfg


def has_chat_template(pipeline: Pipeline) -> bool:
    return bool(pipeline.pipe.get_tokenizer().chat_template)


def render_prompt(pipeline: Pipeline, prompt: str, system_prompt: str | None, chat_template: bool) -> str:
    """The text the model sees: the chat template over [system, user] messages, or the raw prompt."""
    if not chat_template:
        return prompt if system_prompt is None else f"{system_prompt}\n\n{prompt}"
    messages = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
    messages.append({"role": "user", "content": prompt})
    return str(pipeline.pipe.get_tokenizer().apply_chat_template(messages, add_generation_prompt=True))


@dataclass
class ItemResult:
    """One prompt's outcome; timings are the batch's when it was decoded in a batch."""

    prompt: str
    text: str
    input_tokens: int
    output_tokens: int
    ttft_ms: float
    tpot_ms: float
    generate_ms: float
    finish_reason: str
    batch: int


@dataclass
class DecodeStats:
    """Totals over every generate call of one decoding pass."""

    items: list[ItemResult] = field(default_factory=list)
    wall_s: float = 0.0
    generated_tokens: int = 0
    input_tokens: int = 0
    target_steps: int = 0
    ttft_ms: list[float] = field(default_factory=list)
    tpot_ms: list[float] = field(default_factory=list)
    call_input_tokens: list[int] = field(default_factory=list)  # prompt tokens prefilled by each generate call
    call_generated: list[int] = field(default_factory=list)  # new tokens of each generate call (all its sequences)
    accepted_tokens: int = 0
    draft_tokens: int = 0
    draft_stats: bool = False

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.wall_s if self.wall_s else 0.0

    @property
    def tokens_per_step(self) -> float:
        """New tokens per target-model inference (1.0 per sequence without speculation)."""
        return self.generated_tokens / self.target_steps if self.target_steps else 0.0

    @property
    def acceptance_rate(self) -> float | None:
        if not self.draft_stats or not self.draft_tokens:
            return None
        return self.accepted_tokens / self.draft_tokens


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def decode(
    pipeline: Pipeline,
    cfg: Any,
    rendered: list[str],
    prompts: list[str],
    batch_size: int,
    templated: bool,
    progress: Callable[[int, int], None] | None = None,
) -> DecodeStats:
    """Generate for every rendered prompt, `batch_size` at a time (continuous batching).

    `templated`: the chat template is already in the text (with its special tokens), so the
    tokenizer must not add special tokens again — the same as openvino_genai's own chat path.
    """
    tokenizer = pipeline.pipe.get_tokenizer()
    stats = DecodeStats()
    for batch_index, start in enumerate(range(0, len(rendered), batch_size)):
        chunk = rendered[start : start + batch_size]
        t0 = time.perf_counter()
        result = pipeline.pipe.generate(chunk, cfg, add_special_tokens=not templated)
        wall = time.perf_counter() - t0
        pm = result.perf_metrics
        generated = int(pm.get_num_generated_tokens())
        stats.wall_s += wall
        stats.generated_tokens += generated
        stats.target_steps += len(pm.raw_metrics.token_infer_durations)
        ttft, tpot = float(pm.get_ttft().mean), float(pm.get_tpot().mean)
        stats.ttft_ms.append(ttft)
        stats.tpot_ms.append(tpot)
        _add_draft_stats(stats, result.extended_perf_metrics)
        stats.call_input_tokens.append(int(pm.get_num_input_tokens()))
        stats.call_generated.append(generated)
        for offset, (text, reason) in enumerate(zip(result.texts, result.finish_reasons, strict=True)):
            index = start + offset
            if len(chunk) == 1:  # the call's own counts: no second tokenization
                n_in, n_out = stats.call_input_tokens[-1], generated
            else:  # the batch's count is exact; per item, count by re-tokenizing the text
                n_in = int(tokenizer.encode(chunk[offset], add_special_tokens=not templated).input_ids.shape[1])
                n_out = int(tokenizer.encode(text, add_special_tokens=False).input_ids.shape[1]) if text else 0
            stats.input_tokens += n_in
            stats.items.append(ItemResult(
                prompt=prompts[index], text=text, input_tokens=n_in, output_tokens=n_out, ttft_ms=round(ttft, 2),
                tpot_ms=round(tpot, 2), generate_ms=round(wall * 1000, 2), finish_reason=reason.name.lower(),
                batch=batch_index,
            ))  # fmt: skip
        if progress is not None:
            progress(min(start + batch_size, len(rendered)), len(rendered))
    return stats


def _add_draft_stats(stats: DecodeStats, extended: Any) -> None:
    """Draft-model acceptance from SDPerModelsPerfMetrics (prompt lookup exposes none)."""
    if extended is None or not hasattr(extended, "get_num_accepted_tokens"):
        return
    stats.draft_stats = True
    stats.accepted_tokens += int(extended.get_num_accepted_tokens())
    stats.draft_tokens += int(extended.get_num_draft_tokens())


def warm_up(pipeline: Pipeline, cfg: Any, rendered: str, templated: bool) -> None:
    """One short generation so one-time allocations are not charged to the measured pass."""
    saved = (cfg.max_new_tokens, cfg.min_new_tokens)
    cfg.max_new_tokens, cfg.min_new_tokens = min(4, saved[0]), 0
    try:
        pipeline.pipe.generate([rendered], cfg, add_special_tokens=not templated)
    finally:
        cfg.max_new_tokens, cfg.min_new_tokens = saved


@dataclass
class TurnResult:
    text: str
    input_tokens: int
    output_tokens: int
    ttft_ms: float
    tpot_ms: float
    tokens_per_s: float


def chat_turn(pipeline: Pipeline, cfg: Any, messages: list[dict[str, str]], write: Callable[[str], None]) -> TurnResult:
    """One chat turn over the whole history, streaming text pieces to `write` as they are decoded."""
    import openvino_genai as ov_genai

    def streamer(piece: str) -> Any:
        write(piece)
        return ov_genai.StreamingStatus.RUNNING

    cfg.apply_chat_template = True  # openvino_genai renders the history with the model's template
    start = time.perf_counter()
    result = pipeline.pipe.generate(ov_genai.ChatHistory(messages), cfg, streamer)
    wall = time.perf_counter() - start
    pm = result.perf_metrics
    generated = int(pm.get_num_generated_tokens())
    return TurnResult(
        text=result.texts[0], input_tokens=int(pm.get_num_input_tokens()), output_tokens=generated,
        ttft_ms=float(pm.get_ttft().mean), tpot_ms=float(pm.get_tpot().mean),
        tokens_per_s=generated / wall if wall else 0.0,
    )  # fmt: skip
