"""`quantize:` — post-training quantization (nncf.quantize) or weight compression (nncf.compress_weights).

Every combination NNCF would reject after loading the model is rejected here instead, so
`--dry-run` and `ovtool recipe validate` fail in seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ovtool.recipe.sections.base import Section, StageSection
from ovtool.recipe.sections.data import DataSpec

WeightMode = Literal[
    "int8_sym", "int8_asym", "int4_sym", "int4_asym", "int3_sym", "int2_sym", "nf4", "cb4", "mxfp4",
    "mxfp8_e4m3", "fp8_e4m3", "fp4", "nvfp4",
]  # fmt: skip
INT8_WEIGHT_MODES = ("int8_sym", "int8_asym")
# Modes NNCF's OpenVINO backend cannot combine with AWQ / scale estimation / GPTQ / LoRA correction.
NO_DATA_AWARE_MODES = ("mxfp4", "mxfp8_e4m3", "fp8_e4m3", "fp4", "nvfp4")
DATA_AWARE = ("awq", "scale_estimation", "gptq", "lora_correction")


class SubgraphSpec(Section):
    """A subgraph kept in float: every node between these inputs and outputs."""

    inputs: list[str] = Field(min_length=1, description="Node names where the subgraph starts.")
    outputs: list[str] = Field(min_length=1, description="Node names where the subgraph ends.")


class AutoScope(Section):
    """Measure activation ranges on calibration data; keep the widest-range layers in float."""

    top_k: int = Field(gt=0, description="How many layers (by widest activation range) stay in float.")
    types: list[str] = Field(
        default=["MatMul", "Convolution"],
        description="Which operation types are candidates (their input activation range is measured).",
    )


class IgnoredScopeSpec(Section):
    """nncf.IgnoredScope: what stays in floating point."""

    names: list[str] = Field(default_factory=list, description="Exact node names.")
    patterns: list[str] = Field(default_factory=list, description="Regular expressions over node names.")
    types: list[str] = Field(default_factory=list, description="Operation types (MatMul, Convolution…).")
    subgraphs: list[SubgraphSpec] = Field(default_factory=list, description="Subgraphs by input/output names.")
    auto: AutoScope | None = Field(default=None, description="Outlier heuristic (post-training quantization).")
    validate_names: bool = Field(
        default=True, description="Fail when a name/pattern/type matches nothing (NNCF's `validate`)."
    )

    def is_empty(self) -> bool:
        return not (self.names or self.patterns or self.types or self.subgraphs or self.auto)


class AccuracyControl(Section):
    """nncf.quantize_with_accuracy_control: revert layers to float until the drop is within bounds."""

    metric: Literal["accuracy", "f1", "perplexity", "similarity"] = Field(
        description="accuracy/f1 need labels; similarity is cosine similarity to the original's outputs."
    )
    max_drop: float = Field(gt=0, description="Largest allowed drop of the metric.")
    drop_type: Literal["absolute", "relative"] = Field(
        default="absolute", description="absolute: in metric units (accuracy 0-1); relative: a fraction."
    )
    validation: DataSpec | None = Field(
        default=None, description="Validation data; default: held-out samples of the evaluation data."
    )
    max_num_iterations: int | None = Field(default=None, gt=0, description="At most this many revert rounds.")


class WeightsSpec(Section):
    """nncf.compress_weights options; data-aware ones read `quantize.calibration`."""

    mode: WeightMode = Field(description="Compression mode of the weights.")
    group_size: int | None = Field(
        default=None, description="Weights per quantization group; -1 = per channel. NNCF default: 128 for 4-bit."
    )
    group_size_fallback: Literal["error", "ignore", "adjust"] | None = Field(
        default=None,
        description="When group_size does not divide a layer's channels: error (NNCF default), ignore "
        "(that layer keeps the backup precision) or adjust (a smaller group that divides).",
    )
    ratio: float | None = Field(
        default=None, description="Share of layers in `mode`; the rest use backup_mode. In (0, 1]."
    )
    all_layers: bool | None = Field(default=None, description="Embeddings and the last layer in `mode` too.")
    sensitivity_metric: Literal[
        "weight_quantization_error", "hessian_input_activation", "mean_activation_variance",
        "max_activation_variance", "mean_activation_magnitude",
    ] | None = Field(default=None, description="How layers are ranked for `ratio`.")  # fmt: skip
    awq: bool | None = Field(default=None, description="Activation-aware weight scaling (needs calibration).")
    scale_estimation: bool | None = Field(default=None, description="Scale estimation (needs calibration).")
    gptq: bool | None = Field(default=None, description="GPTQ (needs calibration).")
    lora_correction: bool | None = Field(default=None, description="LoRA correction (needs calibration).")
    backup_mode: Literal["none", "int8_sym", "int8_asym", "mxfp8_e4m3", "fp8_e4m3"] | None = Field(
        default=None, description="Precision of the layers left out by `ratio` (and embeddings)."
    )
    subset_size: int = Field(default=128, gt=0, description="Calibration samples used by data-aware steps.")
    ignored_scope: IgnoredScopeSpec | None = Field(default=None, description="Layers kept as they are.")

    @model_validator(mode="after")
    def _check_combination(self) -> WeightsSpec:
        if self.ratio is not None and not 0 < self.ratio <= 1:
            raise ValueError(f"ratio must be in (0, 1], got {self.ratio}")
        if self.group_size is not None and self.group_size != -1 and self.group_size <= 0:
            raise ValueError(f"group_size must be a positive int or -1 (per channel), got {self.group_size}")
        if self.mode in INT8_WEIGHT_MODES:
            bad = [n for n in ("all_layers", "sensitivity_metric", *DATA_AWARE, "backup_mode")
                   if getattr(self, n) is not None]  # fmt: skip
            if (self.ratio or 1) != 1:
                bad.append("ratio")
            if (self.group_size or -1) != -1:
                bad.append("group_size")
            if bad:
                raise ValueError(f"{self.mode} compresses every layer per channel: remove {', '.join(bad)}")
        if self.mode in NO_DATA_AWARE_MODES:
            used = [n for n in DATA_AWARE if getattr(self, n)]
            if used:
                raise ValueError(f"{', '.join(used)} cannot be combined with mode {self.mode} (NNCF)")
        if self.gptq and self.lora_correction:
            raise ValueError("gptq and lora_correction cannot be combined: choose one")
        if self.ignored_scope is not None and self.ignored_scope.auto is not None:
            raise ValueError("ignored_scope.auto applies to post-training quantization, not to weights")
        return self

    def data_aware(self) -> list[str]:
        """The options set that read calibration data."""
        used = [n for n in DATA_AWARE if getattr(self, n)]
        if self.sensitivity_metric not in (None, "weight_quantization_error"):
            used.append(f"sensitivity_metric {self.sensitivity_metric}")
        return used


class QualitySpec(Section):
    """How the result is compared to the original (always on held-out samples)."""

    samples: int | None = Field(
        default=None, gt=0, description="Held-out samples (default 200; 16 text chunks for LLMs)."
    )
    prompts: int = Field(default=6, ge=0, description="LLMs: held-out prompts for generation agreement.")
    max_new_tokens: int = Field(default=32, gt=0, description="LLMs: greedy tokens per prompt.")
    embedding_model: str | None = Field(
        default=None,
        description="LLMs: a sentence-embedding HF folder (e.g. all-MiniLM-L6-v2) for the similarity of "
        "generations, as who-what-benchmark does; left out, only the token match rate is reported.",
    )
    inference_precision: Literal["f32", "bf16", "f16"] = Field(
        default="f32", description="INFERENCE_PRECISION_HINT for the quality comparison."
    )
    speed_seconds: float = Field(
        default=3.0, ge=0, description="Seconds of throughput measurement per model (0: skip speed)."
    )
    speed_baseline: Literal["default", "f32"] = Field(
        default="default",
        description="Non-LLM speed: the original IR at the device's default precision (bf16 on CPUs with "
        "AMX/AVX512-BF16) or at f32 (the fp IR in its own precision, as CPUs without bf16 run it). Both are "
        "measured and reported when they differ; `speedup` and the min_speedup gate use this one.",
    )


PTQ_FIELDS = ("mode", "preset", "model_type", "target_device", "subset_size", "bias_correction",
              "smooth_quant_alpha", "overflow_fix", "ignored_scope", "accuracy_control")  # fmt: skip


class QuantizeSection(StageSection):
    """Post-training quantization of activations and weights, or (with `weights:`) weight compression."""

    calibration: DataSpec | None = Field(
        default=None, description="Calibration data (required for PTQ and data-aware weight compression)."
    )
    evaluation: DataSpec | None = Field(
        default=None,
        description="Held-out data for the quality report; default: other samples of the calibration data.",
    )
    mode: Literal["int8", "fp8_e4m3", "fp8_e5m2"] = Field(
        default="int8", description="PTQ: int8, or FP8 activations and weights."
    )
    preset: Literal["performance", "mixed"] | None = Field(
        default=None, description="PTQ: performance (symmetric) or mixed (asymmetric activations)."
    )
    model_type: Literal["transformer"] | None = Field(default=None, description="PTQ: transformer patterns.")
    target_device: Literal["any", "cpu", "gpu", "npu", "cpu_spr"] = Field(default="any")
    subset_size: int = Field(default=300, gt=0, description="PTQ: calibration samples used.")
    bias_correction: Literal["fast", "full", "none"] = Field(default="fast", description="PTQ bias correction.")
    smooth_quant_alpha: float | None = Field(
        default=None, description="PTQ: SmoothQuant alpha for MatMul in [0, 1]; -1 disables."
    )
    overflow_fix: Literal["disable", "enable", "first_layer"] | None = Field(
        default=None, description="PTQ: 7-bit weights against 8-bit saturation on CPUs without VNNI."
    )
    ignored_scope: IgnoredScopeSpec | None = Field(default=None, description="PTQ: what stays in float.")
    accuracy_control: AccuracyControl | None = Field(
        default=None, description="PTQ: nncf.quantize_with_accuracy_control."
    )
    weights: WeightsSpec | None = Field(default=None, description="Weight compression instead of PTQ.")
    quality: QualitySpec = Field(default_factory=QualitySpec, description="The quality/speed comparison.")

    @property
    def method(self) -> str:
        return "weights" if self.weights is not None else "ptq"

    @model_validator(mode="after")
    def _check_combination(self) -> QuantizeSection:
        if self.weights is not None:
            # compared with the defaults (not model_fields_set) so the resolved recipe.yaml re-validates
            fields = type(self).model_fields
            mixed = [name for name in PTQ_FIELDS if getattr(self, name) != fields[name].get_default()]
            if mixed:
                raise ValueError(
                    f"{', '.join(mixed)}: post-training quantization options; with `weights:` "
                    "use the options inside `weights:`"
                )
            needs = self.weights.data_aware()
            if needs and self.calibration is None:
                raise ValueError(f"weights: {', '.join(needs)} read calibration data: set quantize.calibration")
            if self.calibration is not None and self.weights.mode in INT8_WEIGHT_MODES:
                raise ValueError(f"weights.mode {self.weights.mode} is data-free: remove quantize.calibration")
            return self
        if self.calibration is None:
            raise ValueError(
                "post-training quantization needs calibration data: set quantize.calibration "
                "(or quantize.weights for data-free weight compression)"
            )
        if self.smooth_quant_alpha is not None and not (
            self.smooth_quant_alpha == -1 or 0 <= self.smooth_quant_alpha <= 1
        ):
            raise ValueError(f"smooth_quant_alpha must be in [0, 1] or -1, got {self.smooth_quant_alpha}")
        if self.mode != "int8":
            bad = [n for n in ("preset", "overflow_fix") if getattr(self, n) is not None]
            if bad:
                raise ValueError(f"{', '.join(bad)} apply to int8, not to mode {self.mode}")
        if self.accuracy_control is not None:
            if self.mode != "int8":
                raise ValueError("accuracy_control works with mode int8 only (NNCF)")
            if self.ignored_scope is not None and self.ignored_scope.auto is not None:
                raise ValueError("choose ignored_scope.auto or accuracy_control, not both")
        return self
