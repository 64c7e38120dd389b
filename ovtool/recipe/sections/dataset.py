"""`dataset:` — prepare data before the other stages: detect, convert, stats, validate, split, filter,
merge, encrypt, decrypt (image datasets through Datumaro) and stats, split, sample (text datasets).

Keys never live in a recipe: `key_env` names an environment variable, `key_file` a file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ByteSize, Field, model_validator

from ovtool.recipe.sections.base import StageSection

DatasetVerb = Literal[
    "detect", "convert", "stats", "validate", "split", "filter", "merge", "encrypt", "decrypt", "sample"
]  # fmt: skip
# Verbs that publish a dataset under OUT/dataset/ (so they need OUT).
WRITING_VERBS: tuple[str, ...] = ("convert", "split", "filter", "merge", "encrypt", "decrypt", "sample")
TEXT_VERBS: tuple[str, ...] = ("stats", "split", "sample")
TEXT_OUTPUT_FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet", "folder")
# How far one .zip/.tar input may expand: room for typical calibration/evaluation sets (COCO val2017
# is 0.8 GB in 5,000 files), small enough that a zip bomb cannot fill /tmp; bigger archives raise it.
ARCHIVE_MAX_BYTES = 4 * 1024**3
ARCHIVE_MAX_MEMBERS = 100_000


class DatasetSection(StageSection):
    """One dataset operation; its result feeds `quantize`/`benchmark`/`distill` by path."""

    verb: DatasetVerb = Field(description="What to do with the dataset.")
    path: str | None = Field(
        default=None,
        description="The dataset: a folder, a file (text data), or a .zip/.tar(.gz) archive (extracted safely).",
    )
    format: str | None = Field(
        default=None,
        description="Input format: a Datumaro format (voc, coco, yolo, cvat, imagenet, mnist…) or a text format "
        "(txt, jsonl, json, csv, parquet, folder). Detected when left out.",
    )
    kind: Literal["image", "text"] | None = Field(
        default=None, description="Image (Datumaro) or text (datasets) data; detected from format/path when left out."
    )
    output_format: str | None = Field(
        default=None,
        description="Format to write (Datumaro exporter, e.g. coco, yolo, yolo_ultralytics, voc, imagenet, "
        "imagenet_with_subset_dirs; text: jsonl, csv, parquet, folder). Default: the input format.",
    )
    save_media: bool = Field(default=True, description="Copy the images into the written dataset.")
    image_ext: str | None = Field(
        default=None, description="Image file extension to write (e.g. .png); default: the exporter's."
    )
    label_map: dict[str, str] | None = Field(
        default=None, description="Rename labels {old: new}; other labels are kept (Datumaro remap_labels)."
    )
    subset_map: dict[str, str] | None = Field(
        default=None, description="Rename subsets {old: new}, e.g. {default: train} (Datumaro map_subsets)."
    )
    limit: int | None = Field(
        default=None, gt=0, description="Keep this many items, drawn at random with the seed (before anything else)."
    )
    ratios: dict[str, float] | None = Field(
        default=None,
        description="Split into subsets with these shares, e.g. {train: 0.8, val: 0.2} (split; optional for convert).",
    )
    stratified: bool = Field(
        default=True, description="Keep each label's share in every subset (false: plain random split)."
    )
    expression: str | None = Field(
        default=None,
        description="filter: a Datumaro XPath expression, e.g. /item[subset='train'] or /item/annotation[label='cat'].",
    )
    filter_annotations: bool = Field(
        default=False, description="filter: the expression selects annotations (not items)."
    )
    remove_empty: bool = Field(default=False, description="filter: drop items left without annotations.")
    merge_with: list[str] | None = Field(default=None, description="merge: more datasets merged into `path`.")
    merge_policy: Literal["union", "exact", "intersect"] = Field(
        default="union", description="merge: Datumaro merge policy."
    )
    task: Literal["classification", "detection", "segmentation"] | None = Field(
        default=None, description="validate: the task to check for; detected from the annotations when left out."
    )
    image_stats: bool = Field(
        default=False, description="stats: also compute pixel mean/std (decodes every image)."
    )
    key_env: str | None = Field(
        default=None, description="encrypt/decrypt/reading: environment variable holding the Fernet key."
    )
    key_file: str | None = Field(
        default=None,
        description="encrypt/decrypt/reading: file holding the Fernet key; encrypt creates it (mode 0600) if missing.",
    )
    text_field: str | None = Field(default=None, description="Text data: column/key holding the text.")
    label_field: str | None = Field(default=None, description="Text data: column/key holding the label.")
    samples: int | None = Field(default=None, gt=0, description="sample: how many samples to draw.")
    seed: int | None = Field(default=None, description="Seed for limit/split/sample (default: the recipe's seed).")
    archive_max_bytes: ByteSize = Field(
        default=ByteSize(ARCHIVE_MAX_BYTES),
        description="Archive input: most bytes it may expand to (checked before and while extracting), e.g. 8GiB.",
    )
    archive_max_members: int = Field(
        default=ARCHIVE_MAX_MEMBERS, gt=0, description="Archive input: most members (files and folders) it may hold."
    )

    @model_validator(mode="after")
    def _check(self) -> DatasetSection:
        if self.input is not None:
            raise ValueError("the dataset stage reads `path` (the dataset), not `input`")
        if self.path is None:
            raise ValueError(f"path is required: the dataset to {self.verb}")
        needs = {
            "convert": ("output_format", "the format to write"),
            "filter": ("expression", "an XPath expression"),
            "split": ("ratios", "the subset shares, e.g. {train: 0.8, val: 0.2}"),
            "merge": ("merge_with", "the datasets to merge into path"),
            "sample": ("samples", "how many samples to draw"),
        }
        if self.verb in needs and getattr(self, needs[self.verb][0]) is None:
            name, what = needs[self.verb]
            raise ValueError(f"verb {self.verb} needs {name} ({what})")
        if self.key_env and self.key_file:
            raise ValueError("give key_env or key_file, not both")
        if self.verb in ("encrypt", "decrypt") and not (self.key_env or self.key_file):
            raise ValueError(f"{self.verb} needs key_file (generated by encrypt when missing) or key_env")
        if self.ratios is not None:
            if not self.ratios or any(not 0 < r <= 1 for r in self.ratios.values()):
                raise ValueError("ratios must be shares in (0, 1], e.g. {train: 0.8, val: 0.2}")
            if abs(sum(self.ratios.values()) - 1) > 1e-6:
                raise ValueError(f"ratios must sum to 1 (they sum to {sum(self.ratios.values()):g})")
        if self.kind == "text" and self.verb not in (*TEXT_VERBS, "encrypt", "decrypt"):
            raise ValueError(f"verb {self.verb} reads image datasets; text data supports "
                             f"{', '.join(TEXT_VERBS)}, encrypt, decrypt")  # fmt: skip
        if self.archive_max_bytes <= 0:
            raise ValueError("archive_max_bytes must be a positive size, e.g. 8GiB")
        if self.image_ext is not None and not self.image_ext.startswith("."):
            raise ValueError("image_ext starts with a dot, e.g. .png")
        return self
