"""`benchmark:` — what to measure, on which device, with which settings, and for how long.

Static models run through OpenVINO async inference (the benchmark_app method); stateful LLM IRs
with tokenizer IRs run through openvino_genai. Combinations that cannot work are rejected here,
so `--dry-run` fails in seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ovtool.recipe.sections.base import StageSection
from ovtool.recipe.sections.data import DataSpec
from ovtool.recipe.sections.generate import AdapterItem

Hint = Literal["throughput", "latency", "cumulative_throughput", "none"]
Precision = Literal["f32", "bf16", "f16"]
Mode = Literal["auto", "static", "llm"]
# Placeholders allowed in `models`: the top-level `model:` and this stage's input.
MODEL_PLACEHOLDER = "{model}"
INPUT_PLACEHOLDER = "{input}"


class BenchmarkSection(StageSection):
    """Settings of `ovtool benchmark`; the first model is the baseline of every ratio."""

    models: list[str] = Field(
        default_factory=list,
        description="Models measured side by side (IR or any source convert accepts); the first is the "
        "baseline. '{model}' is the top-level model, '{input}' this stage's input. Empty: the stage input.",
    )
    labels: list[str] = Field(
        default_factory=list, description="Names shown in the tables, one per model (default: from the paths)."
    )
    mode: Mode = Field(
        default="auto",
        description="auto: stateful IR with tokenizer IRs → llm (openvino_genai), else static (async inference).",
    )
    device: str = Field(default="CPU", description="OpenVINO device: CPU, GPU, NPU, AUTO:GPU,CPU …")
    hint: Hint | None = Field(
        default=None,
        description="OpenVINO performance hint; default: throughput for static models (as benchmark_app), "
        "openvino_genai's own default for LLMs.",
    )
    streams: int | None = Field(default=None, gt=0, description="NUM_STREAMS (default: chosen by the hint).")
    infer_requests: int | None = Field(
        default=None, gt=0, description="Parallel infer requests (default: the device's optimal number)."
    )
    threads: int | None = Field(default=None, gt=0, description="INFERENCE_NUM_THREADS (default: all cores).")
    precision: Precision | Literal["auto"] | None = Field(
        default=None,
        description="INFERENCE_PRECISION_HINT; default: the device's (bf16 on CPUs with AMX/AVX512-BF16). "
        "auto: `ovtool tune`'s stored choice for each IR on this machine (static models: its precision, and its "
        "hint/streams when tuned for this benchmark's goal); without one, LLMs as `ovtool generate` runs them, "
        "other models at the device's. The precision actually used is always reported.",
    )
    config: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Further OpenVINO properties passed to compile_model as they are."
    )
    shapes: list[int] | dict[str, list[int]] | None = Field(
        default=None,
        description="Static shapes for dynamic inputs: one list for every input ([1, 128]) or one per "
        "input name ({input_ids: [1, 128]}). The first dimension is the batch.",
    )
    data: DataSpec | None = Field(
        default=None,
        description="Real text samples as inputs (tokenized with the model folder's tokenizer); "
        "default: random inputs of the right dtype and range.",
    )
    warmup: int = Field(default=2, ge=0, description="Warm-up inferences (LLM: generations) before measuring.")
    duration_s: float | None = Field(
        default=None, gt=0, description="Seconds of measured inference per model (default 10)."
    )
    iterations: int | None = Field(default=None, gt=0, description="Measured inferences per model instead.")
    rounds: int = Field(
        default=4, gt=0, description="Several models: each one's run is split into this many interleaved parts "
        "(the order reverses each part: A B, B A…)."
    )
    profile: bool = Field(
        default=False,
        description="Per-layer profile (performance counters) and the execution graph, saved beside the report.",
    )
    top_ops: int = Field(default=15, gt=0, description="Operations listed in the profile table.")
    pytorch_baseline: bool | str = Field(
        default=False,
        description="Also time PyTorch eager on the same inputs: true = the first model's Hugging Face "
        "folder, or a path to one.",
    )
    prompt_lengths: list[int] = Field(
        default=[32, 256, 1024], description="LLM: prompt lengths in tokens (real text, cut to length)."
    )
    output_lengths: list[int] = Field(default=[128], description="LLM: generated tokens per run (EOS ignored).")
    repeats: int = Field(default=3, gt=0, description="LLM: measured generations per model and length.")
    adapters: list[AdapterItem] = Field(
        default_factory=list,
        description="LLM: LoRA adapters (as generate.adapters); each model is measured as it is and with them, "
        "interleaved, so the adapters' cost is a ratio from the same run.",
    )
    prompt_text: str | None = Field(
        default=None,
        description="LLM: a .txt file or folder of .txt/.md files the prompts are cut from "
        "(default: a built-in public-domain passage).",
    )

    @field_validator("prompt_lengths", "output_lengths")
    @classmethod
    def _positive_lengths(cls, values: list[int]) -> list[int]:
        if not values:
            raise ValueError("give at least one length")
        if any(v <= 0 for v in values):
            raise ValueError("lengths must be positive")
        return values

    @field_validator("shapes")
    @classmethod
    def _positive_dims(cls, shapes: list[int] | dict[str, list[int]] | None) -> object:
        lists = shapes.values() if isinstance(shapes, dict) else [shapes] if shapes is not None else []
        for dims in lists:
            if not dims or any(d <= 0 for d in dims):
                raise ValueError("a shape is a non-empty list of positive ints, e.g. [1, 128]")
        return shapes

    @model_validator(mode="after")
    def _check_combination(self) -> BenchmarkSection:
        if self.duration_s is not None and self.iterations is not None:
            raise ValueError("give duration_s or iterations, not both")
        if self.labels and len(self.labels) != len(self.models):
            raise ValueError(f"labels has {len(self.labels)} names for {len(self.models)} models")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        if self.data is not None and self.data.kind != "text":
            raise ValueError("benchmark.data supports text samples (kind: text); images: use random inputs")
        if self.mode == "llm":
            for name in ("data", "shapes"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to static models, not to mode: llm")
            if self.pytorch_baseline:
                raise ValueError("pytorch_baseline applies to static models, not to mode: llm")
        if self.mode == "static" and self.adapters:
            raise ValueError("adapters apply to LLMs (openvino_genai), not to mode: static")
        return self

    def static_hint(self) -> Hint:
        """The hint static models compile with (benchmark_app's default when none is set)."""
        return self.hint or "throughput"

    def duration(self) -> float:
        """Seconds per model when no iteration count is given."""
        return self.duration_s if self.duration_s is not None else 10.0
