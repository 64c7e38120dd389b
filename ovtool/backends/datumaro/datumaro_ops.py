"""Datumaro's Python API behind `ovtool dataset`: detect, import, transform, export, merge (stats and
validate: ovtool.backends.datumaro.datumaro_stats).

Why not shell out to `datum`: its exit codes say nothing (`datum validate` always exits 0), `datum stats`
writes into the current directory, and errors arrive as tracebacks. Here every Datumaro error becomes
a UserError naming the file, and results come back as data for run.json and the reports.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool.errors import UserError, first_line

ANNOTATION_SUFFIXES = (".xml", ".json", ".txt", ".yaml", ".csv")


# ---------------------------------------------------------------- detect


@dataclass
class Detection:
    """Formats that match best, and why every other candidate was rejected."""

    formats: list[str]
    rejected: dict[str, dict[str, str]] = field(default_factory=dict)


def detect(path: Path, depth: int = 2) -> Detection:
    """Like Environment.detect_dataset, but a plugin whose optional dependency is missing (brats needs
    nibabel, for any .gz) is reported as rejected instead of crashing the whole detection."""
    from datumaro.components.environment import Environment
    from datumaro.components.format_detection import (
        FormatDetectionConfidence,
        RejectionReason,
        detect_dataset_format,
    )
    from datumaro.util.os_util import get_all_file_extensions

    env = Environment()
    rejected: dict[str, dict[str, str]] = {}

    def on_reject(name: str, reason: RejectionReason, message: str) -> None:
        rejected[name] = {"reason": reason.name, "message": message}

    extensions = get_all_file_extensions(str(path), {"__MACOSX"}) or [""]
    importers = {}
    for extension in extensions:
        for name, importer in env.importers.extension_groups.get(extension, []):
            try:
                importers[name] = importer.get_plugin_cls() if hasattr(importer, "get_plugin_cls") else importer
            except ImportError as exc:
                rejected[name] = {"reason": "plugin_unavailable", "message": f"cannot load the importer: {exc}"}
    matched: set[Any] = set()
    current = str(path)
    for _ in range(depth + 1):
        found = detect_dataset_format(((n, imp.detect) for n, imp in sorted(importers.items())), current,
                                      rejection_callback=on_reject)  # fmt: skip
        matched |= set(found)
        children = list(Path(current).iterdir()) if Path(current).is_dir() else []
        if len(children) != 1 or not children[0].is_dir():
            break
        current = str(children[0])
    best = max(matched).confidence if matched else FormatDetectionConfidence.NONE
    formats = sorted(str(f) for f in matched if f.confidence == best)
    for name in formats:
        rejected.pop(name, None)
    return Detection(formats, rejected)


# Datumaro matches a folder holding one ImageNet subset (val/<label>/…) as both; read as plain imagenet,
# the subset folder would become part of every label ("val/bag") and a label of its own ("val").
SUBSET_DIRS = {"imagenet": "imagenet_with_subset_dirs"}


def pick(formats: list[str]) -> str | None:
    """The one format to read with: the only match, the subset-folder variant when a layout matches
    with and without subset folders, or the family name when all matches are its task variants
    (Datumaro matches a VOC folder as voc, voc_classification and voc_detection)."""
    if len(formats) == 1:
        return formats[0]
    for plain, with_subsets in SUBSET_DIRS.items():
        if set(formats) == {plain, with_subsets}:
            return with_subsets
    for name in formats:
        if all(other == name or other.startswith(name + "_") for other in formats):
            return name
    return None


def resolve_format(path: Path, fmt: str | None) -> str:
    """The given format (checked against Datumaro's importers) or the one detected format."""
    from datumaro.components.environment import Environment

    if fmt is not None:
        if fmt not in Environment().importers:
            raise UserError(f"unknown dataset format {fmt!r}: see `ovtool dataset detect` or Datumaro's format list")
        return fmt
    found = detect(path)
    chosen = pick(found.formats)
    if chosen is not None:
        return chosen
    if found.formats:
        raise UserError(f"{path}: several formats match ({', '.join(found.formats)}): set the format")
    raise UserError(f"{path}: no dataset format detected: run `ovtool dataset detect {path}` to see why, "
                    "or set the format")  # fmt: skip


def check_output_format(fmt: str) -> None:
    from datumaro.components.environment import Environment

    exporters = Environment().exporters
    if fmt not in exporters:
        raise UserError(f"unknown output format {fmt!r}: use one of {', '.join(sorted(exporters))}")


# ---------------------------------------------------------------- reading with errors that name the file


@contextlib.contextmanager
def reading(root: Path) -> Iterator[None]:
    """Turn Datumaro's import errors (raised lazily, while iterating) into one-line UserErrors."""
    from datumaro.components.errors import DatasetImportError, DatumaroError, ItemImportError

    try:
        yield
    except ItemImportError as exc:
        item_id, subset = exc.item_id
        cause = exc.__cause__ or exc
        where = _file_for_item(root, item_id) or f"item {item_id!r} (subset {subset})"
        raise UserError(f"{where}: {cause} — fix or remove this annotation") from exc
    except DatasetImportError as exc:
        cause = _root_cause(exc)
        where = _file_in_traceback(cause, root)
        if where is not None:
            raise UserError(f"{where}: {type(cause).__name__}: {first_line(cause)} — fix this file") from exc
        raise UserError(f"cannot read dataset {root}: {first_line(exc)}") from exc
    except DatumaroError as exc:
        raise UserError(f"dataset {root}: {first_line(exc)}") from exc
    except (ValueError, KeyError, OSError) as exc:
        where = _file_in_traceback(_root_cause(exc), root) or f"dataset {root}"
        raise UserError(f"{where}: {type(exc).__name__}: {first_line(exc)}") from exc




def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _file_in_traceback(exc: BaseException, root: Path) -> str | None:
    """The file the failing parser was reading: the innermost frame holding a path to a file under
    `root` (Datumaro's JSON/XML errors do not name their file)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    base = root.resolve()
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            if isinstance(value, (str, Path)) and len(str(value)) < 4096:
                with contextlib.suppress(OSError, ValueError):
                    candidate = Path(value).resolve()
                    if candidate.is_file() and candidate.is_relative_to(base):
                        return str(Path(value))
    return None


def _file_for_item(root: Path, item_id: str | None) -> str | None:
    """The annotation file an item came from, when one is named after it (VOC, YOLO, LabelMe…)."""
    if not item_id or not root.is_dir():
        return None
    stem = Path(item_id).name
    for candidate in sorted(root.rglob(f"{stem}.*")):
        if candidate.suffix.lower() in ANNOTATION_SUFFIXES and candidate.is_file():
            return str(candidate)
    return None


def import_dataset(path: Path, fmt: str) -> Any:
    """Dataset.import_from with its errors mapped; also loads every item so bad files fail here."""
    import datumaro as dm

    with reading(path):
        dataset = dm.Dataset.import_from(str(path), fmt)
        dataset.init_cache()
    return dataset


# ---------------------------------------------------------------- transforms and export


@dataclass
class Pipeline:
    """The transforms convert/split/filter apply, in this order."""

    limit: int | None = None
    expression: str | None = None
    filter_annotations: bool = False
    remove_empty: bool = False
    label_map: dict[str, str] | None = None
    subset_map: dict[str, str] | None = None
    ratios: dict[str, float] | None = None
    stratified: bool = True
    seed: int = 0


def apply(dataset: Any, p: Pipeline, root: Path) -> Any:
    """limit → filter → remap labels → rename subsets → split, through Datumaro transforms."""
    with reading(root):
        if p.limit is not None and p.limit < len(dataset):
            keys = sorted((item.id, item.subset) for item in dataset)
            chosen = set(random.Random(p.seed).sample(keys, p.limit))
            dataset = dataset.filter(lambda item: (item.id, item.subset) in chosen)
        if p.expression is not None:
            check_expression(p.expression)
            dataset = dataset.filter(p.expression, filter_annotations=p.filter_annotations,
                                     remove_empty=p.remove_empty)  # fmt: skip
        if p.label_map:
            _check_labels(dataset, p.label_map)
            dataset = dataset.transform("remap_labels", mapping=p.label_map, default="keep")
        if p.subset_map:
            missing = sorted(set(p.subset_map) - set(dataset.subsets()))
            if missing:
                raise UserError(f"subset_map: no subset {', '.join(missing)} (subsets: {', '.join(dataset.subsets())})")
            dataset = dataset.transform("map_subsets", mapping=p.subset_map)
        if p.ratios:
            dataset = _split(dataset, p)
        dataset.init_cache()
    _check_applied(dataset, p)
    return dataset


def check_expression(expression: str) -> None:
    """Datumaro logs an invalid XPath and then silently drops the filter; refuse it up front."""
    from lxml import etree

    try:
        etree.XPath(expression)
    except etree.XPathSyntaxError as exc:
        raise UserError(f"filter expression {expression!r} is not valid XPath: {exc}") from exc


def _check_applied(dataset: Any, p: Pipeline) -> None:
    """Datumaro drops a transform that raises (with a log line) and goes on: make sure each one ran."""
    from ovtool.errors import WorkFailed

    names = set(label_names(dataset))
    if p.label_map and not set(p.label_map.values()) <= names:
        raise WorkFailed("Datumaro did not apply label_map (see the log above)")
    subsets = set(dataset.subsets())
    if p.ratios and not subsets <= set(p.ratios):
        raise WorkFailed("Datumaro did not split the dataset (see the log above)")
    if not p.ratios and p.subset_map and subsets & (set(p.subset_map) - set(p.subset_map.values())):
        raise WorkFailed("Datumaro did not apply subset_map (see the log above)")


def _check_labels(dataset: Any, mapping: dict[str, str]) -> None:
    names = label_names(dataset)
    missing = sorted(set(mapping) - set(names))
    if missing:
        raise UserError(f"label_map: no label {', '.join(missing)} in the dataset (labels: {', '.join(names)})")


def _split(dataset: Any, p: Pipeline) -> Any:
    """Stratified (Datumaro `split`, classification task: every label keeps its share) or random."""
    from datumaro.components.annotation import Label

    splits = list((p.ratios or {}).items())
    # Datumaro splits within each existing subset; merge them first so the ratios apply to the whole.
    if len(dataset.subsets()) > 1:
        dataset = _one_subset(dataset)
    if p.stratified:
        unlabeled = [it.id for it in dataset if sum(isinstance(a, Label) for a in it.annotations) != 1]
        if unlabeled:
            raise UserError(f"stratified split needs one label per item ({len(unlabeled)} items have none or several, "
                            f"e.g. {unlabeled[0]!r}): set stratified: false")  # fmt: skip
        return dataset.transform("split", task="classification", splits=splits, seed=p.seed)
    return dataset.transform("random_split", splits=splits, seed=p.seed)


def _one_subset(dataset: Any) -> Any:
    """All items in subset `default`; ids that repeat across subsets (MNIST's train/test both have
    item 0) become `<subset>_<id>`."""
    import datumaro as dm

    seen: Counter[str] = Counter(item.id for item in dataset)
    items = [item.wrap(id=f"{item.subset}_{item.id}" if seen[item.id] > 1 else item.id, subset="default")
             for item in dataset]  # fmt: skip
    return dm.Dataset.from_iterable(items, categories=dataset.categories(), media_type=dataset.media_type())


def export(dataset: Any, out: Path, fmt: str, *, save_media: bool, image_ext: str | None) -> None:
    from datumaro.components.environment import Environment
    from datumaro.components.errors import DatumaroError

    check_output_format(fmt)
    # Start from the exporter's command-line defaults, so the result equals `datum convert` (the Python
    # defaults differ: COCO's reindex is True on the command line, False in Python).
    kwargs: dict[str, Any] = dict(Environment().exporters[fmt].parse_cmdline([]))
    kwargs["save_media"] = save_media
    if image_ext is not None:
        kwargs["image_ext"] = image_ext
    try:
        dataset.export(str(out), fmt, **kwargs)
    except DatumaroError as exc:
        raise UserError(f"cannot write the dataset as {fmt}: {first_line(exc)}") from exc


def merge(datasets: list[Any], policy: str) -> Any:
    from datumaro.components.errors import DatumaroError
    from datumaro.components.hl_ops import HLOps

    try:
        merged = HLOps.merge(*datasets, merge_policy=policy)
        merged.init_cache()
    except DatumaroError as exc:
        raise UserError(f"cannot merge the datasets ({policy}): {first_line(exc)}") from exc
    return merged


# ---------------------------------------------------------------- labels


def label_names(dataset: Any) -> list[str]:
    from datumaro.components.annotation import AnnotationType

    categories = dataset.categories().get(AnnotationType.label)
    return [c.name for c in categories.items] if categories is not None else []
