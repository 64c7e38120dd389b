"""Datumaro's statistics and validators behind `ovtool dataset stats|validate`, returned as data (plots: the stage)."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ovtool.backends.datumaro.datumaro_ops import label_names
from ovtool.errors import UserError, first_line


@dataclass
class Stats:
    """What `stats` measured: counts for run.json and tables, raw sizes for the plots."""

    items_per_subset: dict[str, int]
    items_per_label: dict[str, dict[str, int]]  # subset → label → items carrying it
    annotations_per_type: dict[str, int]
    annotations_per_label: dict[str, int]
    image_sizes: list[tuple[int, int]]  # (height, width)
    box_sizes: list[tuple[float, float]]  # (width, height) in pixels
    unannotated_items: int
    datumaro: dict[str, Any]


def compute_stats(dataset: Any, *, image_stats: bool) -> Stats:
    """Walk the items once; add Datumaro's own annotation (and optionally pixel) statistics."""
    from datumaro.components.annotation import Bbox
    from datumaro.components.operations import compute_ann_statistics, compute_image_statistics

    names = label_names(dataset)
    per_subset: Counter[str] = Counter()
    per_label: dict[str, Counter[str]] = {}
    ann_types: Counter[str] = Counter()
    ann_labels: Counter[str] = Counter()
    sizes: list[tuple[int, int]] = []
    boxes: list[tuple[float, float]] = []
    unannotated = 0
    for item in dataset:
        per_subset[item.subset] += 1
        if not item.annotations:
            unannotated += 1
        seen = set()
        for ann in item.annotations:
            ann_types[ann.type.name] += 1
            label = getattr(ann, "label", None)
            if label is not None and 0 <= label < len(names):
                ann_labels[names[label]] += 1
                seen.add(names[label])
            if isinstance(ann, Bbox):
                boxes.append((float(ann.w), float(ann.h)))
        for name in seen:
            per_label.setdefault(item.subset, Counter())[name] += 1
        size = getattr(item.media, "size", None) if item.media is not None else None
        if size is not None:
            sizes.append((int(size[0]), int(size[1])))
    with warnings.catch_warnings():  # a FutureWarning about Datumaro 2.0 return types, not about the data
        warnings.simplefilter("ignore", FutureWarning)
        extra = {"annotations": _jsonable(compute_ann_statistics(dataset))}
        if image_stats:
            extra["images"] = _jsonable(compute_image_statistics(dataset))
    return Stats(dict(per_subset), {s: dict(c) for s, c in per_label.items()}, dict(ann_types), dict(ann_labels),
                 sizes, boxes, unannotated, extra)  # fmt: skip


def _jsonable(value: Any) -> Any:
    """Datumaro's reports use tuple keys and numpy numbers; run.json needs plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


# ---------------------------------------------------------------- validate


def guess_task(dataset: Any) -> str:
    """detection when there are boxes, segmentation for masks/polygons, else classification."""
    kinds = {ann.type.name for item in dataset for ann in item.annotations}
    if "bbox" in kinds:
        return "detection"
    if kinds & {"mask", "polygon", "ellipse"}:
        return "segmentation"
    return "classification"


def validate(dataset: Any, task: str) -> dict[str, Any]:
    """Datumaro's validator for `task`: {'validation_reports': [...], 'summary': {...}, 'statistics': {...}}."""
    from datumaro.components.errors import DatumaroError
    from datumaro.components.hl_ops import HLOps

    try:
        return _jsonable(HLOps.validate(dataset, task))
    except DatumaroError as exc:
        raise UserError(f"cannot validate as {task}: {first_line(exc)}") from exc
