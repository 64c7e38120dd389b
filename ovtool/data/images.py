"""Images for calibration/evaluation: a plain folder or any Datumaro-readable dataset, preprocessed.

Datumaro reads the dataset (ImageNet folders, VOC, COCO, YOLO… or `image_dir` for a plain folder);
OpenCV (a Datumaro dependency) does the resizing. Preprocessing follows the recipe's
`preprocess:` so the arrays match what the model was trained with.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool.errors import UserError, first_line, innermost_cause
from ovtool.recipe.sections.data import IMAGE_FOLDER, DataSpec, ImagePreprocess

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class ImageSamples:
    """Decoded RGB images (HxWx3 uint8) with their ids and labels (None where the dataset has none)."""

    images: list[Any]
    ids: list[str]
    labels: list[int | None]
    label_names: list[str]
    format: str


def resolve_format(path: Path, fmt: str | None) -> str:
    """The Datumaro format to read `path` with: given, a plain image folder, or detected."""
    if fmt is not None:
        return "image_dir" if fmt == IMAGE_FOLDER else fmt
    if path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
        return "image_dir"
    import datumaro as dm

    found = dm.Environment().detect_dataset(str(path))
    if len(found) != 1:
        what = "no dataset format" if not found else f"several formats ({', '.join(found)})"
        raise UserError(f"Datumaro detects {what} at {path}: set format (image_folder, imagenet, voc, coco, yolo…)")
    return found[0]


def check_image_source(spec: DataSpec) -> None:
    """Cheap checks for --dry-run: the path exists and the format is one Datumaro knows."""
    assert spec.path is not None
    path = Path(spec.path)
    if not path.exists():
        raise UserError(f"image data not found: {path}")
    if spec.format not in (None, IMAGE_FOLDER):
        import datumaro as dm

        if spec.format not in dm.Environment().importers:
            raise UserError(f"unknown image dataset format {spec.format!r}: use image_folder or a Datumaro format")


def load_images(spec: DataSpec, seed: int) -> ImageSamples:
    """Read every image of `spec` through Datumaro (RGB), shuffled with `seed`."""
    from ovtool.library_errors import root_logs_as_detail

    with root_logs_as_detail():  # Datumaro's `WARNING:root:…` lines: with -v only
        return _load_images(spec, seed)


def _load_images(spec: DataSpec, seed: int) -> ImageSamples:
    import datumaro as dm

    assert spec.path is not None
    check_image_source(spec)
    fmt = resolve_format(Path(spec.path), spec.format)
    try:
        dataset = dm.Dataset.import_from(spec.path, fmt)
    except dm.components.errors.DatasetImportError as exc:
        reason = first_line(innermost_cause(exc))  # "Failed to import dataset" wraps the item's own reason
        raise UserError(f"Datumaro cannot read {spec.path} as {fmt}: {reason}") from exc
    label_names = _label_names(dataset)
    rows = []
    for item in dataset:
        if spec.split is not None and item.subset != spec.split:
            continue
        if item.media is None:
            continue
        labels = [a.label for a in item.annotations if getattr(a, "label", None) is not None]
        rows.append((item.id, item.media, labels[0] if len(labels) == 1 else None))
    if not rows:
        where = f" in subset {spec.split!r}" if spec.split else ""
        raise UserError(f"no images{where} at {spec.path} (read as {fmt})")
    random.Random(seed).shuffle(rows)
    images = [_rgb(media.data) for _, media, _ in rows]
    return ImageSamples(images, [r[0] for r in rows], [r[2] for r in rows], label_names, fmt)


def _label_names(dataset: Any) -> list[str]:
    from datumaro.components.annotation import AnnotationType

    categories = dataset.categories().get(AnnotationType.label)
    return [c.name for c in categories.items] if categories is not None else []


def _rgb(data: Any) -> Any:
    """Datumaro decodes with OpenCV (BGR, maybe gray or BGRA) → HxWx3 RGB uint8."""
    import cv2
    import numpy as np

    image = np.asarray(data)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def preprocess(image: Any, prep: ImagePreprocess, model_hw: tuple[int, int] | None) -> Any:
    """One RGB uint8 image → a float32 batch of one in the model's layout and channel order.

    Without an explicit resize the image is resized to the model's static height/width (if any).
    """
    import cv2
    import numpy as np

    resize = prep.resize if prep.resize is not None else (list(model_hw) if model_hw else None)
    if isinstance(resize, int):
        h, w = image.shape[:2]
        factor = resize / min(h, w)
        image = cv2.resize(image, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_LINEAR)
    elif isinstance(resize, list) and prep.letterbox:
        image = _letterbox(image, resize[0], resize[1], prep.pad_value)
    elif isinstance(resize, list):
        image = cv2.resize(image, (resize[1], resize[0]), interpolation=cv2.INTER_LINEAR)
    if prep.crop is not None:
        ch, cw = (prep.crop, prep.crop) if isinstance(prep.crop, int) else prep.crop
        h, w = image.shape[:2]
        if ch > h or cw > w:
            raise UserError(f"preprocess.crop {ch}x{cw} is larger than the resized image {h}x{w}")
        top, left = (h - ch) // 2, (w - cw) // 2
        image = image[top : top + ch, left : left + cw]
    array = image.astype(np.float32) / prep.scale
    if prep.channel_order == "BGR":
        array = array[..., ::-1]
    # mean/std are given in the model's channel order
    if prep.mean is not None:
        array = array - np.asarray(prep.mean, dtype=np.float32)
    if prep.std is not None:
        array = array / np.asarray(prep.std, dtype=np.float32)
    if prep.layout == "NCHW":
        array = array.transpose(2, 0, 1)
    return np.ascontiguousarray(array[None])


def _letterbox(image: Any, height: int, width: int, pad: int) -> Any:
    import cv2
    import numpy as np

    h, w = image.shape[:2]
    factor = min(height / h, width / w)
    nh, nw = round(h * factor), round(w * factor)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((height, width, 3), pad, dtype=np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    canvas[top : top + nh, left : left + nw] = resized
    return canvas
