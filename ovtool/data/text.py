"""Text data shared by the quantize, benchmark, dataset and training stages.

Every stage reads text through this module so that one file means the same samples everywhere:
the same parsing, the same labels (ClassLabel, names sorted) and the same deterministic split
(`ovtool.data.text_split`).
`bbc_splits` is the canonical BBC News split; its test split is never used for training or
calibration. Long documents (plays, books) become paragraph chunks in `ovtool.data.corpus`.

`datasets`, `pyarrow` and friends are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovtool.errors import UserError, first_line, innermost_cause

if TYPE_CHECKING:
    import datasets

__all__ = [
    "CANONICAL_RATIOS",
    "FORMATS",
    "TextDataError",
    "bbc_splits",
    "label_names",
    "load_text_dataset",
    "read_text_file",
    "texts_and_labels",
]

# format name -> what it reads; `fmt=None` detects it from the path.
FORMATS: dict[str, str] = {
    "txt": "a .txt file, one sample per non-empty line",
    "txt-files": "whole .txt/.md files (a file, folder or glob), chunked into paragraphs",
    "jsonl": "JSON Lines, one object per line",
    "json": "a JSON array of objects (or JSON Lines)",
    "csv": "a CSV file with a header row",
    "parquet": "a Parquet file",
    "folder": "a folder with one subfolder of .txt files per label",
}
_ALIASES = {"text": "txt", "lines": "txt", "files": "txt-files", "folder-per-label": "folder", "pq": "parquet"}
_SUFFIXES = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
             ".parquet": "parquet", ".pq": "parquet", ".md": "txt-files"}  # fmt: skip
CORPUS_SUFFIXES = (".txt", ".md")

# The canonical split every stage and script uses (train / validation / test, stratified, seed 0).
CANONICAL_RATIOS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}


class TextDataError(UserError, ValueError):
    """Unusable text data (exit code 2). A ValueError too, so plain callers can catch it as one."""


# ---------------------------------------------------------------- reading files


def read_text_file(path: Path) -> str:
    """Decode a text file as UTF-8 (BOM tolerated), else cp1252, else latin-1: real corpora mix encodings.

    (BBC News has one file that is not UTF-8; failing or dropping characters there would change a sample.)
    """
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        with contextlib.suppress(UnicodeDecodeError):
            return raw.decode(encoding)
    return raw.decode("latin-1")  # never fails: every byte is a character


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """Hide datasets' progress bars and log lines while loading small local files: stderr is for ovtool's
    progress, and a file datasets cannot parse is reported once, by ovtool's own one-line error (datasets
    would log "Failed to load JSON from file …" above it)."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    verbosity = datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        yield
    finally:
        datasets.logging.set_verbosity(verbosity)
        if not was_disabled:
            datasets.enable_progress_bars()


def disable_progress_bars() -> None:
    """datasets' progress bars off for the rest of the process: stderr carries ovtool's own progress lines."""
    import datasets

    datasets.disable_progress_bars()


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """Rows (dicts with the same keys) as one Parquet file, through datasets/pyarrow."""
    import datasets

    datasets.Dataset.from_list(rows).to_parquet(str(path))


def _column(ds: datasets.Dataset, name: str) -> list[Any]:
    """A column as a plain list, in one Arrow read (`list(ds[name])` reads row by row: 100x slower)."""
    return list(ds[name][:])


def _detect_format(path: Path) -> str:
    if path.is_dir():
        subdirs = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
        if any(_label_files(d) for d in subdirs):
            return "folder"
        if any(p.suffix.lower() in CORPUS_SUFFIXES for p in path.rglob("*") if p.is_file()):
            return "txt-files"
        if _holds_images(path):
            raise TextDataError(f"{path}: a folder of images where text data is read (quantize takes images with "
                                "--data-kind image, in a recipe `kind: image`)")  # fmt: skip
        raise TextDataError(f"{path}: a folder with neither label subfolders of .txt files nor .txt/.md files "
                            "— give a data file or a folder-per-label")  # fmt: skip
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise TextDataError(f"{path}: unknown text format {path.suffix or '(no suffix)'!r} — set the format "
                            f"to one of {', '.join(FORMATS)}")  # fmt: skip
    return fmt


def _holds_images(folder: Path, look_at: int = 2000) -> bool:
    """Image files among the folder's first `look_at` entries (a big tree is not walked whole for a hint)."""
    import itertools

    from ovtool.data.images import IMAGE_SUFFIXES

    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in itertools.islice(folder.rglob("*"), look_at))


def _normalize_format(fmt: str) -> str:
    name = _ALIASES.get(fmt.strip().lower(), fmt.strip().lower())
    if name not in FORMATS:
        raise TextDataError(f"unknown text format {fmt!r} — use one of {', '.join(FORMATS)}")
    return name


def _label_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.txt") if p.is_file() and not p.name.startswith("."))


def _load_lines(path: Path) -> datasets.Dataset:
    import datasets

    lines = [line.strip() for line in read_text_file(path).splitlines()]
    return datasets.Dataset.from_dict({"text": [line for line in lines if line]})


def _load_folder(path: Path) -> datasets.Dataset:
    import datasets

    if not path.is_dir():
        raise TextDataError(f"{path}: format 'folder' needs a folder with one subfolder of .txt files per label")
    files_by_label = {d.name: _label_files(d) for d in sorted(path.iterdir()) if d.is_dir()
                      and not d.name.startswith(".")}  # fmt: skip
    files_by_label = {label: files for label, files in files_by_label.items() if files}
    if not files_by_label:
        raise TextDataError(f"{path}: no label subfolders with .txt files — expected {path}/<label>/*.txt")
    names = sorted(files_by_label)
    texts: list[str] = []
    labels: list[int] = []
    for index, label in enumerate(names):
        for file in files_by_label[label]:
            text = read_text_file(file).strip()
            if text:
                texts.append(text)
                labels.append(index)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    return datasets.Dataset.from_dict({"text": texts, "label": labels}, features=features)


def _load_table(path: Path, fmt: str) -> datasets.Dataset:
    """json/jsonl/csv/parquet through datasets' own builders, in memory, with a throwaway cache."""
    import datasets

    from ovtool.scratch import owned_tempdir

    builder = "json" if fmt in ("json", "jsonl") else fmt
    with owned_tempdir("ovtool-text-") as cache, _quiet_datasets():
        try:
            loaded = datasets.load_dataset(builder, data_files=[str(path)], split="train", cache_dir=str(cache),
                                           keep_in_memory=True)  # fmt: skip
        except Exception as exc:  # pyarrow/json/pandas errors have no common base: report them as bad input
            reason = first_line(innermost_cause(exc), 200)  # datasets wraps the parser's own error
            raise TextDataError(f"{path}: cannot read as {fmt}: {reason} — check the file "
                                "or set the format") from exc  # fmt: skip
    assert isinstance(loaded, datasets.Dataset)
    return loaded


def _to_class_label(ds: datasets.Dataset, path: Path) -> datasets.Dataset:
    """Make 'label' a ClassLabel: class names (sorted) or integer ids 0..max are kept as given."""
    import datasets

    feature = ds.features["label"]
    if isinstance(feature, datasets.ClassLabel):
        return ds
    values = _column(ds, "label")
    missing = next((i for i, v in enumerate(values) if v is None or v == ""), None)
    if missing is not None:
        raise TextDataError(f"{path}: sample {missing} has no label — every sample needs one (or drop the label field)")
    if all(isinstance(v, str) for v in values):
        names = sorted(set(values))
        return ds.cast_column("label", datasets.ClassLabel(names=names))
    if all(isinstance(v, (int, float)) and float(v).is_integer() and v >= 0 for v in values):
        ids = [int(v) for v in values]
        names = [str(i) for i in range(max(ids) + 1)]
        ds = ds.remove_columns("label").add_column("label", ids)
        return ds.cast_column("label", datasets.ClassLabel(names=names))
    raise TextDataError(f"{path}: labels must be class names or integer ids >= 0 (found {feature}) "
                        "— fix the label column")  # fmt: skip


def _select_fields(ds: datasets.Dataset, path: Path, text_field: str, label_field: str | None) -> datasets.Dataset:
    columns = ds.column_names
    available = ", ".join(columns) or "none"
    if text_field not in columns:
        raise TextDataError(f"{path}: no text field {text_field!r} (fields: {available}) — set the text field")
    has_label = label_field is not None and label_field in columns
    if label_field is not None and not has_label and label_field != "label":
        raise TextDataError(f"{path}: no label field {label_field!r} (fields: {available}) — set the label field")
    keep = [text_field, *([label_field] if has_label else [])]
    ds = ds.select_columns(keep)
    if text_field != "text":
        ds = ds.rename_column(text_field, "text")
    if has_label and label_field != "label":
        assert label_field is not None
        ds = ds.rename_column(label_field, "label")
    texts = _column(ds, "text")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TextDataError(f"{path}: field {text_field!r} of sample {bad} is not text ({texts[bad]!r}) "
                            "— set the text field to a text column")  # fmt: skip
    return _to_class_label(ds, path) if has_label else ds


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


# ---------------------------------------------------------------- public API


def _source_format(path: Path, fmt: str | None) -> str:
    """The format to read `path` with, checked against what the path is (a listing, no file read)."""
    name = _normalize_format(fmt) if fmt else None
    if name is None and not path.exists() and is_glob(str(path)):
        name = "txt-files"
    if name != "txt-files" and not path.exists():
        raise TextDataError(f"{path}: no such file or folder — check the data path")
    name = name or _detect_format(path)
    if name not in ("txt-files", "folder") and path.is_dir():
        raise TextDataError(f"{path}: is a folder but format {name!r} reads a file — give the file "
                            "or use format 'folder'")  # fmt: skip
    return name


def check_text_source(path: str | Path, fmt: str | None = None) -> None:
    """What `load_text_dataset` would refuse before reading a file (missing path, unknown format, a folder
    that holds no text): for a stage's --dry-run, before a model is loaded for minutes of training."""
    _source_format(Path(path).expanduser(), fmt)


def load_text_dataset(
    path: str | Path,
    *,
    text_field: str | None = "text",
    label_field: str | None = "label",
    fmt: str | None = None,
    split: str | None = None,
) -> datasets.Dataset:
    """Local text data as a Dataset with columns 'text' (and 'label', a ClassLabel, when there is one).

    Why one loader: quantize calibration, accuracy checks, benchmarks and training must see the same
    samples from the same file. Formats (`fmt`, detected from the path when None): `txt` (one sample per
    non-empty line), `jsonl`/`json`, `csv`, `parquet`, `folder` (one subfolder of .txt files per label;
    labels are the subfolder names, sorted) and `txt-files` (whole .txt/.md files, a folder or a glob,
    chunked into paragraphs by `load_text_corpus`).

    `text_field`/`label_field` name the columns of jsonl/json/csv/parquet data (None = the defaults:
    'text', and no labels). A missing default 'label' column just means unlabeled data; a label field
    that was named explicitly must exist. String labels become ClassLabel names (sorted), integer
    labels keep their ids. `split` ('train', 'validation' or 'test') returns that part of the canonical
    stratified 0.8/0.1/0.1 split (seed 0, see `bbc_splits`).

    Raises TextDataError (a ValueError and an ovtool UserError) with a one-line message naming the file
    and the fix: missing file, unknown format, unreadable file, wrong field, no samples.
    """
    path = Path(path).expanduser()
    text_field = text_field or "text"
    name = _source_format(path, fmt)
    if name == "txt-files":
        import datasets

        from ovtool.data.corpus import load_text_corpus  # corpus imports this module: import here

        ds = datasets.Dataset.from_dict({"text": load_text_corpus(path, min_chars=0)})
    elif name == "folder":
        ds = _load_folder(path)
    elif name == "txt":
        ds = _load_lines(path)
    else:
        ds = _select_fields(_load_table(path, name), path, text_field, label_field)
    if len(ds) == 0:
        raise TextDataError(f"{path}: no samples (the data is empty) — give a file with at least one text")
    if split is not None:
        if split not in CANONICAL_RATIOS:
            raise TextDataError(f"unknown split {split!r} — use one of {', '.join(CANONICAL_RATIOS)}")
        from ovtool.data.text_split import split_dataset

        ds = split_dataset(ds, ratios=CANONICAL_RATIOS, seed=0, stratify=True)[split]
    return ds


def bbc_splits(root: str | Path, seed: int = 0) -> dict[str, datasets.Dataset]:
    """The project's canonical BBC News split: train 0.8 / validation 0.1 / test 0.1, stratified, seed 0.

    `root` is the folder-per-label (`.assets/bbcnews/data`: business, entertainment, politics, sports,
    tech). Every stage, test and script uses this one function, so the held-out test split is never
    seen in training, calibration or distillation.
    """
    from ovtool.data.text_split import split_dataset

    ds = load_text_dataset(Path(root), fmt="folder")
    return split_dataset(ds, ratios=CANONICAL_RATIOS, seed=seed, stratify=True)


def texts_and_labels(ds: datasets.Dataset) -> tuple[list[str], list[int] | None]:
    """Plain lists for tokenizers and metrics: the texts, and the label ids (None when unlabeled)."""
    return _column(ds, "text"), (_column(ds, "label") if "label" in ds.column_names else None)


def label_names(ds: datasets.Dataset) -> Sequence[str] | None:
    """Class names in id order (for id2label), or None when the dataset has no ClassLabel 'label'."""
    import datasets

    feature = ds.features.get("label")
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
