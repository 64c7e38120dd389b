"""`generate:` — prompts, sampling, speculative decoding and device settings of `ovtool generate`.

Every combination that cannot work is rejected here, so `--dry-run` and `ovtool recipe validate`
catch it before a model is loaded.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ovtool.recipe.sections.base import Section, StageSection

KvCachePrecision = Literal["u8", "u4", "f16", "bf16", "f32"]
Hint = Literal["latency", "throughput"]


class SpeculativeSection(Section):
    """Speculative decoding: a draft model or prompt lookup proposes tokens the model verifies."""

    draft: str | None = Field(
        default=None,
        description="Draft model (IR folder or any source convert accepts) sharing the model's tokenizer; "
        "offline, a lower-precision copy of the same model (INT4 draft for an FP16/INT8 target).",
    )
    prompt_lookup: bool = Field(
        default=False, description="Propose tokens by matching n-grams of the prompt (no draft model)."
    )
    num_assistant_tokens: int | None = Field(
        default=None, ge=1, le=64,
        description="Tokens proposed per step (default 5 unless assistant_confidence_threshold is set).",
    )  # fmt: skip
    assistant_confidence_threshold: float | None = Field(
        default=None, gt=0, lt=1,
        description="Draft only: keep proposing while the draft's probability stays above this (instead of "
        "a fixed num_assistant_tokens).",
    )  # fmt: skip
    max_ngram_size: int = Field(default=3, ge=1, le=16, description="Prompt lookup: longest n-gram matched.")
    compare_plain: bool = Field(
        default=True,
        description="Also decode the same prompts without speculation in the same run, to report the speedup "
        "(and, for greedy decoding, whether the texts are identical).",
    )

    @model_validator(mode="after")
    def _one_method(self) -> SpeculativeSection:
        if (self.draft is None) == (not self.prompt_lookup):
            raise ValueError("set exactly one of speculative.draft or speculative.prompt_lookup: true")
        if self.num_assistant_tokens is not None and self.assistant_confidence_threshold is not None:
            raise ValueError("set num_assistant_tokens or assistant_confidence_threshold, not both")
        if self.prompt_lookup and self.assistant_confidence_threshold is not None:
            raise ValueError("assistant_confidence_threshold needs a draft model; prompt lookup uses "
                             "num_assistant_tokens")  # fmt: skip
        return self


class AdapterItem(Section):
    """One LoRA adapter applied at generation (openvino_genai), blended with the others by alpha."""

    path: str = Field(description="A PEFT LoRA adapter folder (adapter_model.safetensors + adapter_config.json) "
                      "or its .safetensors file.")  # fmt: skip
    alpha: float = Field(
        default=1.0, allow_inf_nan=False,
        description="Weight of this adapter: 1.0 = as trained (PEFT's lora_alpha / r included), 0 = off.",
    )  # fmt: skip


class PerformanceSection(Section):
    """OpenVINO device properties for the pipeline; left out = the device's default."""

    kv_cache_precision: KvCachePrecision | None = Field(
        default=None, description="KV-cache element type (KV_CACHE_PRECISION): u8 saves memory, f32 is exact."
    )
    threads: int | None = Field(default=None, ge=1, description="INFERENCE_NUM_THREADS.")
    streams: int | None = Field(default=None, ge=1, description="NUM_STREAMS.")
    hint: Hint | None = Field(default=None, description="PERFORMANCE_HINT: latency or throughput.")
    inference_precision: Literal["auto", "default", "f32", "bf16", "f16"] = Field(
        default="auto",
        description="INFERENCE_PRECISION_HINT. auto: f32 on CPU for weight-compressed (int4/int8) IRs and for "
        "greedy speculative decoding, else the device default (bf16 on CPUs that have it); default: never set it.",
    )
    properties: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Any other OpenVINO property, passed as given."
    )


class GenerateSection(StageSection):
    """What `ovtool generate` runs: one prompt, a prompt file, or a batch of prompts."""

    prompt: str | None = Field(default=None, description="One prompt (`-p`; `-p -` reads stdin).")
    prompt_file: str | None = Field(default=None, description="A text file whose whole content is one prompt.")
    prompts: str | None = Field(
        default=None,
        description='Many prompts: .jsonl (one {"prompt": …} object or JSON string per line, optional "id") '
        "or .txt (one prompt per line) → OUT/outputs.jsonl.",
    )
    system_prompt: str | None = Field(default=None, description="System message put before every prompt.")
    chat_template: bool = Field(
        default=True, description="Apply the model's chat template (off: the prompt goes to the model raw)."
    )
    max_new_tokens: int = Field(default=256, ge=1, description="Stop after this many new tokens.")
    min_new_tokens: int = Field(default=0, ge=0, description="Do not stop (end of sequence) before this many.")
    do_sample: bool = Field(default=False, description="Random sampling; false = greedy decoding.")
    temperature: float | None = Field(default=None, gt=0, description="Sampling temperature (do_sample only).")
    top_k: int | None = Field(default=None, ge=1, description="Keep the k most likely tokens (do_sample only).")
    top_p: float | None = Field(default=None, gt=0, le=1, description="Nucleus sampling mass (do_sample only).")
    repetition_penalty: float = Field(default=1.0, gt=0, description="1.0 = no penalty; >1 discourages repeats.")
    stop: list[str] = Field(default_factory=list, description="Stop strings (not included in the text).")
    batch_size: int = Field(
        default=8, ge=1,
        description="Prompts decoded together from a prompts file (continuous batching); 1 gives exact "
        "per-item TTFT/TPOT.",
    )  # fmt: skip
    device: str = Field(default="CPU", description="OpenVINO device: CPU, GPU, NPU …")
    performance: PerformanceSection = Field(default_factory=PerformanceSection)
    speculative: SpeculativeSection | None = Field(
        default=None, description="Speculative decoding (draft model) or prompt-lookup decoding."
    )
    adapters: list[AdapterItem] = Field(
        default_factory=list,
        description="LoRA adapters applied by openvino_genai without re-exporting the model; several blend by "
        "alpha. `--adapter none` (an empty list) runs the base model.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _check(self) -> GenerateSection:
        given = [n for n in ("prompt", "prompt_file", "prompts") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give one prompt source, not {' and '.join(given)}")
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("the prompt is empty")
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(f"min_new_tokens ({self.min_new_tokens}) exceeds max_new_tokens ({self.max_new_tokens})")
        if not self.do_sample:
            sampling = [n for n in ("temperature", "top_k", "top_p") if getattr(self, n) is not None]
            if sampling:
                raise ValueError(f"{', '.join(sampling)}: sampling settings need do_sample: true (--sample); "
                                 "greedy decoding ignores them")  # fmt: skip
        if any(not s for s in self.stop):
            raise ValueError("a stop string is empty")
        if self.adapters and self.speculative is not None:
            raise ValueError("adapters apply to plain decoding: drop speculative (or the adapters)")
        return self
