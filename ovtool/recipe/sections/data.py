"""`DataSpec` — calibration/evaluation data shared by quantize, benchmark, distill and prune.

One model describes where samples come from (local files only), how many are drawn and how
they are turned into model inputs; stages never read data described any other way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ovtool.recipe.sections.base import Section

TEXT_FORMATS: tuple[str, ...] = ("txt", "txt-files", "jsonl", "json", "csv", "parquet", "folder")
# Datumaro format names (ImageNet folders, VOC, COCO, YOLO…) are checked against Datumaro at load
# time; `image_folder` is a plain folder of images (recursively).
IMAGE_FOLDER = "image_folder"


class ImagePreprocess(Section):
    """How an image becomes a model input; declare what the model was trained with."""

    resize: int | list[int] | None = Field(
        default=None,
        description="An int resizes the shorter side (keeping aspect), [height, width] resizes exactly.",
    )
    letterbox: bool = Field(
        default=False,
        description="Resize to fit [height, width] keeping aspect and pad the rest (YOLO-style).",
    )
    pad_value: int = Field(default=114, ge=0, le=255, description="Letterbox padding value.")
    crop: int | list[int] | None = Field(
        default=None, description="Center crop after resizing: an int (square) or [height, width]."
    )
    scale: float = Field(
        default=255.0, gt=0, description="Pixels (0-255) are divided by this before mean/std (1 keeps 0-255)."
    )
    mean: list[float] | None = Field(default=None, description="Per-channel mean, subtracted after scaling.")
    std: list[float] | None = Field(default=None, description="Per-channel std, divided after the mean.")
    layout: Literal["NCHW", "NHWC"] = Field(default="NCHW", description="Layout of the model's image input.")
    channel_order: Literal["RGB", "BGR"] = Field(default="RGB", description="Channel order the model expects.")

    @field_validator("resize", "crop")
    @classmethod
    def _check_size(cls, value: int | list[int] | None) -> int | list[int] | None:
        sizes = [value] if isinstance(value, int) else value or []
        if isinstance(value, list) and len(value) != 2:
            raise ValueError("give an int or [height, width]")
        if any(s <= 0 for s in sizes):
            raise ValueError("sizes must be positive")
        return value

    @field_validator("mean", "std")
    @classmethod
    def _check_channels(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and len(value) not in (1, 3):
            raise ValueError("give 1 or 3 values (one per channel)")
        return value

    @model_validator(mode="after")
    def _check_combination(self) -> ImagePreprocess:
        if self.std is not None and any(v == 0 for v in self.std):
            raise ValueError("std values must not be 0")
        if self.letterbox and not isinstance(self.resize, list):
            raise ValueError("letterbox needs resize: [height, width]")
        return self


class DataSpec(Section):
    """Where samples come from and how many; `synthetic: true` is the only way to get fake data."""

    path: str | None = Field(
        default=None,
        description="Local file or folder: .txt/.jsonl/.csv/.parquet, a folder of .txt per label, "
        "a folder of images, or any Datumaro-readable dataset.",
    )
    kind: Literal["text", "image"] = Field(default="text", description="Text samples or images.")
    format: str | None = Field(
        default=None,
        description="Text: txt (one sample per line), txt-files (whole files, chunked), jsonl, json, csv, "
        "parquet, folder (a folder of .txt per label). Images: image_folder or a Datumaro format "
        "(imagenet, voc, coco, yolo…). Detected when left out.",
    )
    text_field: str | None = Field(default=None, description="Column/key holding the text (jsonl/csv/parquet).")
    label_field: str | None = Field(default=None, description="Column/key holding the label (classifiers).")
    split: str | None = Field(
        default=None,
        description="Which split to read: a split the files define (train/test…), or for BBC-style "
        "folders the canonical train/validation/test split. Datumaro: the subset name.",
    )
    samples: int | None = Field(default=None, gt=0, description="How many samples to draw (default: stage's).")
    seed: int | None = Field(default=None, description="Sampling seed (default: the recipe's seed).")
    max_length: int | None = Field(
        default=None, gt=0, description="Tokens per sample (text is truncated/padded or chunked to this)."
    )
    preprocess: ImagePreprocess | None = Field(default=None, description="Image preprocessing (kind: image).")
    synthetic: bool = Field(
        default=False, description="Random inputs shaped like the model's; only when asked, and reported."
    )

    @model_validator(mode="after")
    def _check_combination(self) -> DataSpec:
        if self.synthetic and self.path is not None:
            raise ValueError("give either path or synthetic: true, not both")
        if not self.synthetic and self.path is None:
            raise ValueError("path is required (or synthetic: true for random inputs)")
        if self.kind == "image":
            for name in ("text_field", "max_length"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to text data, not to kind: image")
            if self.format in TEXT_FORMATS:
                raise ValueError(f"format {self.format} is a text format; kind is image")
        else:
            if self.preprocess is not None:
                raise ValueError("preprocess applies to kind: image")
            if self.format is not None and self.format not in TEXT_FORMATS:
                raise ValueError(f"format {self.format!r} is not a text format ({', '.join(TEXT_FORMATS)})")
        return self
