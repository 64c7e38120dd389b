"""`convert:` — source model to OpenVINO IR, with optimum-cli's weight-compression options.

The keys mirror `optimum-cli export openvino` (docs/convert.md maps each one); compression is
nncf.compress_weights with the quantize stage's `WeightsSpec`, built here so every combination NNCF
or optimum would reject late fails at validation instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from ovtool.recipe.sections.base import Section, StageSection
from ovtool.recipe.sections.data import DataSpec
from ovtool.recipe.sections.quantize import WeightsSpec

SourceFormat = Literal["auto", "hf", "gguf", "onnx", "tflite", "tf", "paddle", "pytorch", "ir"]
# optimum-cli's --weight-format choices (optimum-intel 2.2), in its order after the float ones.
WeightFormat = Literal["fp32", "fp16", "int8", "int4", "mxfp4", "nf4", "cb4"]
FLOAT_FORMATS = ("fp32", "fp16")
INTEGER_FORMATS = ("int8", "int4")
Library = Literal["transformers", "diffusers", "timm", "sentence_transformers", "open_clip", "kokoro"]
SensitivityMetric = Literal[
    "weight_quantization_error", "hessian_input_activation", "mean_activation_variance",
    "max_activation_variance", "mean_activation_magnitude",
]  # fmt: skip
# Dataset names optimum-cli downloads from the Hub; ovtool reads local data only.
OPTIMUM_DATASETS = ("auto", "wikitext2", "c4", "c4-new", "gsm8k", "textvqa", "contextual", "conceptual_captions",
                    "laion/220k-GPT4Vision-captions-from-LIVIS", "laion/filtered-wit")  # fmt: skip
# Keys that only mean something when weights are compressed (None = left out).
COMPRESSION_KEYS = ("sym", "group_size", "ratio", "all_layers", "awq", "scale_estimation", "gptq",
                    "lora_correction", "sensitivity_metric", "backup_precision", "group_size_fallback",
                    "dataset")  # fmt: skip


class InputSpec(Section):
    """Shape and layout of one model input, for sources whose inputs need them (ONNX, TFLite…)."""

    shape: list[int | str] | None = Field(
        default=None,
        description="Dimensions: an int is static, -1 or '?' is dynamic, 'a..b' is a bounded range.",
    )
    layout: str | None = Field(default=None, description="Layout letters, e.g. NCHW or NHWC.")

    @field_validator("shape")
    @classmethod
    def _check_dims(cls, dims: list[int | str] | None) -> list[int | str] | None:
        for dim in dims or []:
            if isinstance(dim, int):
                if dim < -1 or dim == 0:
                    raise ValueError(f"dimension {dim} must be a positive int, -1 or '?'")
            elif dim != "?" and not _is_range(dim):
                raise ValueError(f"dimension {dim!r} must be an int, '?' or a range like '1..128'")
        return dims


def _is_range(text: str) -> bool:
    low, sep, high = text.partition("..")
    return bool(sep) and (low == "" or low.isdigit()) and (high == "" or high.isdigit())


class PostprocessSpec(Section):
    """Post-processing folded into the IR on one output (ovtool/backends/openvino/postprocess.py)."""

    output: str | None = Field(
        default=None, description="Output to post-process; default: the one named logits, else the first."
    )
    last_token: bool = Field(
        default=False, description="Keep only the last position of a [batch, sequence, vocab] output (LM logits)."
    )
    topk: int | None = Field(
        default=None, gt=0,
        description="Keep the K largest values: outputs <name>_topk_values and <name>_topk_indices (i64).",
    )
    softmax: bool = Field(
        default=False, description="Softmax over the last axis (over the K values when topk is set)."
    )

    @model_validator(mode="after")
    def _check_something(self) -> PostprocessSpec:
        if not (self.last_token or self.topk is not None or self.softmax):
            raise ValueError("postprocess does nothing: set last_token, topk and/or softmax")
        return self


class ConvertSection(StageSection):
    source_format: SourceFormat = Field(
        default="auto", description="Detected from the model path when 'auto'."
    )
    task: str | None = Field(
        default=None,
        description="Hugging Face task (text-generation-with-past, feature-extraction, …); auto-detected.",
    )
    weight_format: WeightFormat | None = Field(
        default=None,
        description="fp32, fp16, or compressed weights: int8, int4, mxfp4, nf4, cb4 (nncf.compress_weights). "
        "Default as optimum-cli: int8 for models over 1B parameters, else fp32 weights for HF/GGUF, fp16 "
        "for other sources.",
    )
    trust_remote_code: bool = Field(
        default=False, description="Allow a Hugging Face model's own Python code to run."
    )
    library: Library | None = Field(
        default=None, description="Hugging Face library that loads the model; inferred when left out."
    )
    stateful: bool = Field(
        default=True, description="LLMs keep the KV cache inside the IR (false: optimum-cli --disable-stateful)."
    )
    convert_tokenizer: bool = Field(
        default=True,
        description="Tokenizer/detokenizer IRs beside the model (false: optimum-cli --disable-convert-tokenizer).",
    )
    pad_token_id: int | None = Field(default=None, description="Pad token id for models whose tokenizer has none.")
    variant: str | None = Field(default=None, description="Load the weights of this variant (e.g. fp16).")
    inputs: dict[str, InputSpec] | None = Field(
        default=None,
        description="Per-input shape/layout, keyed by input name (Hugging Face exports: static shapes set "
        "after export).",
    )
    sym: bool | None = Field(default=None, description="Symmetric int4/int8 weights (default asymmetric).")
    group_size: int | None = Field(
        default=None, description="Weights per quantization group; -1 per channel (4-bit default 128)."
    )
    ratio: float | None = Field(
        default=None, description="Share of layers in the 4-bit format; the rest use backup_precision. (0, 1]."
    )
    all_layers: bool | None = Field(default=None, description="Embeddings and the last MatMul in 4-bit too.")
    awq: bool | None = Field(
        default=None, description="AWQ: activation-aware with `dataset`, data-free (weight magnitudes) without."
    )
    scale_estimation: bool | None = Field(default=None, description="Scale estimation (needs `dataset`).")
    gptq: bool | None = Field(default=None, description="GPTQ (needs `dataset`).")
    lora_correction: bool | None = Field(default=None, description="LoRA correction (needs `dataset`).")
    sensitivity_metric: SensitivityMetric | None = Field(
        default=None, description="How layers are ranked for `ratio` (all but weight_quantization_error need "
        "`dataset`).",
    )
    backup_precision: Literal["none", "int8_sym", "int8_asym"] | None = Field(
        default=None, description="Precision of layers left out by `ratio` (4-bit formats; default int8_asym)."
    )
    group_size_fallback: Literal["error", "ignore", "adjust"] | None = Field(
        default=None, description="When group_size does not divide a layer's channels (default error)."
    )
    dataset: DataSpec | None = Field(
        default=None,
        description="Local calibration data for data-aware compression (awq, scale_estimation, gptq, "
        "lora_correction, data-aware ratio); `dataset.samples` is optimum-cli's --num-samples.",
    )
    postprocess: PostprocessSpec | None = Field(
        default=None,
        description="Fold last-token/TopK/Softmax into the IR on one output (stateless exports only).",
    )

    @model_validator(mode="after")
    def _check_compression(self) -> ConvertSection:
        given = [k for k in COMPRESSION_KEYS if getattr(self, k) not in (None, False)]
        if given and self.weight_format is None:
            raise ValueError(f"{', '.join(given)}: compression options; set weight_format (int8, int4, …) too")
        if given and self.weight_format in FLOAT_FORMATS:
            raise ValueError(f"{', '.join(given)}: compression options do not apply to weight_format "
                             f"{self.weight_format}; choose int8, int4, mxfp4, nf4 or cb4")  # fmt: skip
        if self.sym and self.weight_format not in INTEGER_FORMATS:
            raise ValueError(f"sym applies to int8 and int4, not to weight_format {self.weight_format}")
        if self.weight_format == "int8":
            per_channel = [k for k in ("all_layers", "awq", "scale_estimation", "gptq", "lora_correction",
                                       "sensitivity_metric", "backup_precision", "group_size_fallback", "dataset")
                           if getattr(self, k) not in (None, False)]  # fmt: skip
            if (self.ratio or 1) != 1:
                per_channel.append("ratio")
            if (self.group_size or -1) != -1:
                per_channel.append("group_size")
            if per_channel:
                raise ValueError(f"weight_format int8 is data-free and per channel on every layer: remove "
                                 f"{', '.join(per_channel)} (or use int4)")  # fmt: skip
        if self.dataset is not None:
            path = self.dataset.path
            if path in OPTIMUM_DATASETS and not Path(path).exists():
                raise ValueError(f"dataset {path!r} is an optimum-cli Hub dataset name; ovtool reads local data "
                                 "only: give a local text file or folder (e.g. a wikitext2 .txt)")  # fmt: skip
        spec = self.weights_spec()
        if spec is not None and self.dataset is None:
            needs = [n for n in spec.data_aware() if n != "awq"]  # AWQ runs data-free without a dataset
            if needs:
                raise ValueError(f"{', '.join(needs)} read calibration data: set dataset (--dataset FILE)")
        return self

    def weights_spec(self) -> WeightsSpec | None:
        """The quantize stage's weight-compression options for this weight_format (None: no compression)."""
        if self.weight_format in (None, *FLOAT_FORMATS):
            return None
        mode = f"{self.weight_format}_{'sym' if self.sym else 'asym'}" if self.weight_format in INTEGER_FORMATS \
            else self.weight_format  # fmt: skip
        options = {k: getattr(self, k) for k in ("group_size", "ratio", "all_layers", "awq", "scale_estimation",
                                                 "gptq", "lora_correction", "sensitivity_metric",
                                                 "group_size_fallback")}  # fmt: skip
        options = {k: v for k, v in options.items() if v is not None}
        if self.backup_precision is not None:
            options["backup_mode"] = self.backup_precision
        if self.dataset is not None and self.dataset.samples is not None:
            options["subset_size"] = self.dataset.samples
        try:
            return WeightsSpec(mode=mode, **options)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc
