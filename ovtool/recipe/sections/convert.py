"""`convert:` — source model to OpenVINO IR."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ovtool.recipe.sections.base import Section, StageSection

SourceFormat = Literal["auto", "hf", "gguf", "onnx", "tflite", "tf", "paddle", "pytorch", "ir"]
WeightFormat = Literal["fp32", "fp16", "int8"]


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
        description="fp32, fp16 or int8 (data-free). Default as optimum-cli: int8 for models over 1B "
        "parameters, else fp32 weights for HF/GGUF, fp16 for other sources.",
    )
    trust_remote_code: bool = Field(
        default=False, description="Allow a Hugging Face model's own Python code to run."
    )
    inputs: dict[str, InputSpec] | None = Field(
        default=None, description="Per-input shape/layout, keyed by input name."
    )
