"""LLM timing with openvino_genai: TTFT, TPOT and generation tokens/s per prompt and output length.

Prompts are real text tokenized with the model's own tokenizer IR and cut to exact token counts,
fed as token ids (no chat template), decoded greedily with EOS ignored so every run generates
exactly the asked number of tokens. The figures come from openvino_genai's PerfMetrics — the
numbers llm_bench reports — per run, so percentiles across tokens are available too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovtool.errors import UserError, WorkFailed
from ovtool.measure import current_rss_bytes
from ovtool.recipe.sections.benchmark import BenchmarkSection

if TYPE_CHECKING:
    from ovtool.backends.genai.adapters import AppliedAdapter

MAX_PROMPT_CHARS = 200_000


@dataclass
class LLMPoint:
    """All runs of one (prompt length, output length) pair."""

    prompt_tokens: int
    output_tokens: int
    ttft_ms: list[float] = field(default_factory=list)
    tpot_ms: list[float] = field(default_factory=list)
    token_ms: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    generate_ms: list[float] = field(default_factory=list)
    generated: list[int] = field(default_factory=list)


@dataclass
class LLMTarget:
    """One LLM pipeline being measured."""

    label: str
    folder: Path
    pipe: Any
    prompt_ids: Any
    load_s: float
    precision: str
    rss_added_bytes: int = 0
    points: dict[tuple[int, int], LLMPoint] = field(default_factory=dict)


def read_prompt_text(path: str | None) -> str:
    """Where prompts are cut from: a file, a folder of .txt/.md files (Markdown stripped), or the built-in text."""
    if path is None:
        from ovtool.data.bench_text import PASSAGE

        return PASSAGE
    from ovtool.data.corpus import load_text_corpus

    if not Path(path).exists():
        raise UserError(f"benchmark.prompt_text: {path} not found (give a .txt/.md file or a folder of them)")
    chunks = load_text_corpus(path, min_chars=1)
    text = ""
    for chunk in chunks:  # enough for long prompts; the rest is not needed
        text += chunk + "\n\n"
        if len(text) > MAX_PROMPT_CHARS:
            break
    return text


def stateful_xml(xml: Path) -> bool:
    """True when the IR holds Assign layers (a KV cache inside: `bool(model.get_sinks())`), read from the
    XML text: building the model to ask (`read_model`, ~0.3-1 s for a 135M LLM) is what the pipeline does
    again right after."""
    return b'type="Assign"' in xml.read_bytes()


def describe_llm_ir(xml: Path) -> dict[str, Any]:
    """What the benchmark records of a stateful LLM IR (size, weight mix, stateful), from its files alone:
    the weight mix from the XML's Const layers, the same counts as `ir_info.describe_ir` (tested)."""
    from ovtool.backends.genai.genai import ir_weight_mix

    mix = ir_weight_mix(xml)
    bin_path = xml.with_suffix(".bin")
    size = xml.stat().st_size + (bin_path.stat().st_size if bin_path.exists() else 0)
    return {"xml": xml.name, "weight_elements": sum(mix.values()), "weight_precisions": mix, "size_bytes": size,
            "stateful": stateful_xml(xml)}  # fmt: skip


def load(label: str, folder: Path, section: BenchmarkSection, text: str, asked: str | None,
         tuned: Mapping[str, Any] | None = None, adapters: Sequence[AppliedAdapter] = ()) -> LLMTarget:  # fmt: skip
    """Create the pipeline and tokenize the prompt text once with the model's tokenizer.

    `asked` is the INFERENCE_PRECISION_HINT the benchmark stage chose (None = the device's default);
    `tuned`: other device properties of a stored `ovtool tune` choice (KV_CACHE_PRECISION…), under
    `benchmark.config`; `adapters`: LoRA adapters openvino_genai applies to the pipeline (checked by the caller).
    """
    import openvino_genai as ov_genai

    from ovtool.backends.openvino.ov_bench import HINTS, device_default_precision, openvino_message

    properties: dict[str, Any] = dict(tuned or {}) | dict(section.config)
    if asked is not None:
        properties["INFERENCE_PRECISION_HINT"] = asked
    if section.threads is not None:
        properties["INFERENCE_NUM_THREADS"] = section.threads
    if section.streams is not None:
        properties["NUM_STREAMS"] = section.streams
    if section.hint not in (None, "none"):  # else openvino_genai's default
        properties["PERFORMANCE_HINT"] = HINTS[section.hint]
    if adapters:
        from ovtool.backends.genai.adapters import adapter_config

        properties["adapters"] = adapter_config(adapters)
    rss_before = current_rss_bytes()
    start = time.perf_counter()
    try:
        pipe = ov_genai.LLMPipeline(str(folder), section.device, **properties)
    except RuntimeError as exc:
        raise WorkFailed(f"{label}: openvino_genai could not load {folder}: {openvino_message(exc)}") from exc
    load_s = time.perf_counter() - start
    ids = pipe.get_tokenizer().encode(text, add_special_tokens=False).input_ids.data[0]
    if len(ids) == 0:
        raise UserError("benchmark.prompt_text: the text has no tokens")
    precision = asked or device_default_precision(section.device)
    target = LLMTarget(label, folder, pipe, ids, load_s, precision)
    target.rss_added_bytes = max(current_rss_bytes() - rss_before, 0)
    return target


def _prompt(target: LLMTarget, length: int) -> Any:
    import numpy as np
    import openvino as ov
    import openvino_genai as ov_genai

    ids = target.prompt_ids
    repeats = -(-length // len(ids))
    tokens = np.tile(ids, repeats)[:length].astype(np.int64).reshape(1, length)
    return ov_genai.TokenizedInputs(ov.Tensor(tokens), ov.Tensor(np.ones_like(tokens)))


def generation_config(output_tokens: int, seed: int) -> Any:
    """Greedy, EOS ignored: exactly `output_tokens` new tokens every run."""
    import openvino_genai as ov_genai

    config = ov_genai.GenerationConfig()
    config.max_new_tokens = output_tokens
    config.min_new_tokens = output_tokens
    config.ignore_eos = True
    config.do_sample = False
    config.rng_seed = seed
    return config


def generate_once(target: LLMTarget, prompt_tokens: int, output_tokens: int, seed: int) -> Any:
    """One generation; returns openvino_genai's PerfMetrics of it."""
    result = target.pipe.generate(_prompt(target, prompt_tokens), generation_config(output_tokens, seed))
    return result.perf_metrics


def measure_interleaved(targets: list[LLMTarget], section: BenchmarkSection, seed: int) -> None:
    """Warm up, then `repeats` rounds of every model × prompt length × output length, in turn.

    The model order reverses every round (A B, B A…), as for static models: no model is always the
    one measured right after a switch.
    """
    shortest = min(section.prompt_lengths)
    for target in targets:
        for _ in range(section.warmup):
            generate_once(target, shortest, min(section.output_lengths), seed)
    for index in range(section.repeats):
        for target in targets if index % 2 == 0 else targets[::-1]:
            for prompt_tokens in section.prompt_lengths:
                for output_tokens in section.output_lengths:
                    metrics = generate_once(target, prompt_tokens, output_tokens, seed)
                    point = target.points.setdefault(
                        (prompt_tokens, output_tokens), LLMPoint(prompt_tokens, output_tokens)
                    )
                    _record(point, metrics)


def _record(point: LLMPoint, metrics: Any) -> None:
    point.ttft_ms.append(float(metrics.get_ttft().mean))
    point.tpot_ms.append(float(metrics.get_tpot().mean))
    point.tokens_per_s.append(float(metrics.get_throughput().mean))
    point.generate_ms.append(float(metrics.get_generate_duration().mean))
    point.generated.append(int(metrics.get_num_generated_tokens()))
    # µs → ms; one duration per token after the first (TPOT is their mean)
    point.token_ms.extend(d / 1000 for d in metrics.raw_metrics.m_durations)


def genai_version() -> str:
    import openvino_genai as ov_genai

    return str(ov_genai.__version__)


def release(targets: list[LLMTarget]) -> None:
    """Drop the pipelines (an ending CLI process keeps them and skips their teardown, ovtool/fast_exit.py)."""
    from ovtool import fast_exit

    for target in targets:
        fast_exit.keep(target.pipe)
        target.pipe = None
