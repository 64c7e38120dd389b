"""The dataset stage: one verb on one dataset, the result under OUT/dataset/ for the stages after it.

Image datasets go through Datumaro (ovtool.backends.datumaro_ops), text datasets through `datasets`
(ovtool.data.text), encryption through ovtool.data.crypto. Inputs may be folders, files, .zip/.tar
archives (extracted safely into a scratch folder that is never published) or ovtool-encrypted
folders (read with the key, plaintext only in memory).
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.data.crypto import KeySource, is_encrypted, safe_relpath
from ovtool.errors import UserError
from ovtool.recipe.schema import Recipe
from ovtool.recipe.sections.dataset import TEXT_OUTPUT_FORMATS, TEXT_VERBS, WRITING_VERBS, DatasetSection
from ovtool.stages.context import Metric, Plot, StageContext, StageResult, Table

NEEDS_MODEL = False
NEEDS_OUTPUT = False  # detect and validate run without OUT; preflight asks for it where a verb writes
DATASET_DIR = "dataset"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
TEXT_FILE_SUFFIXES = (".txt", ".md", ".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".pq")


def _section(recipe: Recipe) -> DatasetSection:
    assert recipe.dataset is not None
    return recipe.dataset


def _seed(section: DatasetSection, recipe: Recipe) -> int:
    return section.seed if section.seed is not None else recipe.seed


def key_source(section: DatasetSection) -> KeySource | None:
    if section.key_env:
        return KeySource(env=section.key_env)
    if section.key_file:
        return KeySource(file=Path(section.key_file).expanduser())
    return None


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


# ---------------------------------------------------------------- preflight


def preflight(recipe: Recipe, ctx: StageContext) -> None:
    """Cheap checks (--dry-run): OUT where the verb writes, inputs exist, keys are reachable."""
    section = _section(recipe)
    if recipe.output is None and (section.verb in WRITING_VERBS or section.verb == "stats"):
        raise UserError(f"dataset {section.verb} writes its result to OUT: pass -o OUT (or set `output:`)")
    for path in [section.path, *(section.merge_with or [])]:
        if path is not None and not Path(path).exists():
            raise UserError(f"dataset not found: {path}")
    source = key_source(section)
    if source is not None and source.file is not None and recipe.output is not None:
        out = Path(recipe.output).resolve()
        if source.file.resolve().is_relative_to(out):
            raise UserError(f"key_file {source.file} is inside OUT {out}: keep the key outside the published folder")
    if section.verb == "decrypt" and not is_encrypted(Path(str(section.path))):
        raise UserError(f"{section.path}: not an ovtool encrypted dataset (no ovtool-encrypted.json)")
    if source is not None and (section.verb == "decrypt" or section.key_env):
        from ovtool.data.crypto import load_key

        load_key(source)
    kind = _kind(section)
    if kind == "text" and section.verb not in (*TEXT_VERBS, "encrypt", "decrypt"):
        raise UserError(f"{section.path} is text data: `dataset {section.verb}` reads image datasets; text data "
                        f"supports {', '.join(TEXT_VERBS)}, encrypt, decrypt (set kind: image if this is wrong)")
    if section.expression is not None:
        from ovtool.backends.datumaro_ops import check_expression

        check_expression(section.expression)
    if section.output_format is not None and kind == "image" and section.verb != "encrypt":
        from ovtool.backends.datumaro_ops import check_output_format

        check_output_format(section.output_format)
    text_out = section.output_format is not None and kind == "text"
    if text_out and section.output_format not in TEXT_OUTPUT_FORMATS:
        raise UserError(f"text output_format {section.output_format!r}: use one of {', '.join(TEXT_OUTPUT_FORMATS)}")


def _kind(section: DatasetSection) -> str:
    """text or image: from `kind`, the format name, or what the path holds."""
    from ovtool.data.text import FORMATS

    if section.kind is not None:
        return section.kind
    if section.format is not None:
        return "text" if section.format in FORMATS or section.format == "folder-per-label" else "image"
    path = Path(str(section.path))
    if is_encrypted(path) or _is_archive(path):
        return "image" if section.verb not in TEXT_VERBS else _kind_of_contents(path)
    return _kind_of_contents(path)


def _kind_of_contents(path: Path) -> str:
    if path.is_file():
        return "text" if path.suffix.lower() in TEXT_FILE_SUFFIXES else "image"
    if not path.is_dir() or is_encrypted(path) or _is_archive(path):
        return "image"
    files = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    has_text = any(p.suffix.lower() in (".txt", ".md") for p in files)
    only_text = all(p.suffix.lower() in TEXT_FILE_SUFFIXES for p in files)
    no_images = not any(p.suffix.lower() in IMAGE_SUFFIXES for p in files)
    return "text" if files and has_text and only_text and no_images else "image"


# ---------------------------------------------------------------- inputs


@contextlib.contextmanager
def _plain_input(path: Path) -> Iterator[Path]:
    """A folder/file to read: archives are extracted safely into a scratch folder removed afterwards."""
    if not _is_archive(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ovtool-archive-") as tmp:
        root = Path(tmp)
        extract_archive(path, root)
        children = [p for p in root.iterdir() if not p.name.startswith(".")]
        yield children[0] if len(children) == 1 and children[0].is_dir() else root


def extract_archive(archive: Path, dest: Path) -> None:
    """Extract a .zip/.tar archive; a member that would land outside `dest` (`..`, absolute, links
    pointing out) is refused with a UserError — tarfile's `data` filter for tar, a path check for zip."""
    if archive.name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    safe_relpath(name, str(archive))
                zf.extractall(dest)
        except zipfile.BadZipFile as exc:
            raise UserError(f"{archive}: not a readable zip archive ({exc})") from exc
        return
    try:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        raise UserError(f"{archive}: member {exc.tarinfo.name!r} would be written outside the dataset folder; "
                        "refusing the archive") from exc  # fmt: skip
    except tarfile.TarError as exc:
        raise UserError(f"{archive}: not a readable tar archive ({exc})") from exc


@contextlib.contextmanager
def _image_dataset(section: DatasetSection, path: Path, fmt: str | None) -> Iterator[tuple[Any, str, Path]]:
    """(Datumaro dataset, its format, the folder it was read from) for any image input."""
    from ovtool.backends import datumaro_ops as ops

    if is_encrypted(path):
        from ovtool.data.encrypted import open_datumaro

        source = key_source(section)
        if source is None:
            raise UserError(f"{path} is encrypted: give key_env or key_file (--key-env/--key-file)")
        with open_datumaro(path, source, fmt) as (dataset, plain_fmt), ops.reading(path):
            dataset.init_cache()
            yield dataset, plain_fmt, path
        return
    with _plain_input(path) as root:
        resolved = ops.resolve_format(root, fmt)
        yield ops.import_dataset(root, resolved), resolved, root


@contextlib.contextmanager
def _text_path(section: DatasetSection, path: Path) -> Iterator[Path]:
    if is_encrypted(path):
        from ovtool.data.encrypted import open_plain_folder

        source = key_source(section)
        if source is None:
            raise UserError(f"{path} is encrypted: give key_env or key_file (--key-env/--key-file)")
        with open_plain_folder(path, source) as folder:
            files = [p for p in folder.iterdir()]
            yield files[0] if len(files) == 1 and files[0].is_file() else folder
        return
    with _plain_input(path) as root:
        yield root


# ---------------------------------------------------------------- run


def run(recipe: Recipe, ctx: StageContext) -> StageResult:
    section = _section(recipe)
    path = Path(str(section.path))
    result = StageResult(stage="dataset")
    result.details = {"verb": section.verb, "path": str(path)}
    if section.verb == "encrypt":
        _encrypt(section, path, ctx, result)
    elif section.verb == "decrypt":
        _decrypt(section, path, ctx, result)
    elif _kind(section) == "text":
        _text_verb(section, recipe, path, ctx, result)
    else:
        _image_verb(section, recipe, path, ctx, result)
    return result


def _image_verb(section: DatasetSection, recipe: Recipe, path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.backends import datumaro_ops as ops

    if section.verb == "detect":
        _detect(path, ctx, result)
        return
    with contextlib.ExitStack() as stack:
        with ctx.step(f"read {path}"):
            dataset, fmt, root = stack.enter_context(_image_dataset(section, path, section.format))
        result.details["format"] = fmt
        if section.verb == "stats":
            with ctx.step("statistics"):
                _stats(dataset, section, result)
            return
        if section.verb == "validate":
            with ctx.step("validate"):
                _validate(dataset, section, result)
            return
        if section.verb == "merge":
            dataset = _merge(dataset, section, ctx, result)
        pipeline = ops.Pipeline(
            limit=section.limit, expression=section.expression, filter_annotations=section.filter_annotations,
            remove_empty=section.remove_empty, label_map=section.label_map, subset_map=section.subset_map,
            ratios=section.ratios, stratified=section.stratified, seed=_seed(section, recipe),
        )  # fmt: skip
        before = len(dataset)
        with ctx.step("transform"):
            dataset = ops.apply(dataset, pipeline, root)
        out_fmt = section.output_format or fmt
        with ctx.step(f"write {out_fmt}"):
            ops.export(dataset, ctx.work_dir / DATASET_DIR, out_fmt, save_media=section.save_media,
                       image_ext=section.image_ext)  # fmt: skip
        subsets = {name: len(subset) for name, subset in dataset.subsets().items()}
    result.details |= {"output_format": out_fmt, "dataset": DATASET_DIR, "items_in": before,
                       "items_out": len(dataset), "subsets": subsets, "labels": ops.label_names(dataset),
                       "save_media": section.save_media}  # fmt: skip
    result.metrics["items"] = Metric(len(dataset), "items", "items written")
    result.tables.append(Table("Subsets written", ["subset", "items"], [[k, v] for k, v in sorted(subsets.items())]))
    result.summary = (f"{section.verb}: {before} items ({fmt}) → {len(dataset)} items as {out_fmt} in "
                      f"{DATASET_DIR}/ ({', '.join(f'{k} {v}' for k, v in sorted(subsets.items()))})")  # fmt: skip


def _detect(path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.backends import datumaro_ops as ops

    with ctx.step("detect format"), _plain_input(path) as root:
        found = ops.detect(root)
    chosen = ops.pick(found.formats)
    result.details |= {"detected": found.formats, "format": chosen, "rejected": found.rejected}
    rows = [[name, info["reason"], " / ".join(line.strip() for line in info["message"].splitlines()[1:3])
             or info["message"]] for name, info in sorted(found.rejected.items())]  # fmt: skip
    result.tables.append(Table("Rejected formats", ["format", "reason", "why"], rows))
    head = f"detected: {', '.join(found.formats)}" if found.formats else "detected: no format"
    if chosen is not None and len(found.formats) > 1:
        head += f" (reads as {chosen})"
    result.summary = head
    result.stdout_text = head + "\n" + "\n".join(f"  rejected {r[0]}: {r[2]}" for r in rows)


def _stats(dataset: Any, section: DatasetSection, result: StageResult) -> None:
    from ovtool.backends import datumaro_ops as ops

    stats = ops.compute_stats(dataset, image_stats=section.image_stats)
    total = sum(stats.items_per_subset.values())
    result.metrics |= {
        "items": Metric(total, "items"),
        "annotations": Metric(sum(stats.annotations_per_type.values()), "annotations"),
        "labels_used": Metric(len(stats.annotations_per_label), "labels"),
        "unannotated_items": Metric(stats.unannotated_items, "items"),
    }
    if stats.image_sizes:
        heights = [h for h, _ in stats.image_sizes]
        widths = [w for _, w in stats.image_sizes]
        result.metrics["image_height_mean"] = Metric(round(sum(heights) / len(heights), 1), "px")
        result.metrics["image_width_mean"] = Metric(round(sum(widths) / len(widths), 1), "px")
    result.details |= {
        "items_per_subset": stats.items_per_subset, "items_per_label": stats.items_per_label,
        "annotations_per_type": stats.annotations_per_type, "annotations_per_label": stats.annotations_per_label,
        "image_sizes": _size_summary(stats.image_sizes), "box_sizes": _size_summary(stats.box_sizes),
        "datumaro": stats.datumaro,
    }  # fmt: skip
    subsets = sorted(stats.items_per_subset)
    labels = sorted({name for counts in stats.items_per_label.values() for name in counts})
    rows = [[s, stats.items_per_subset[s]] for s in subsets]
    result.tables.append(Table("Items per subset", ["subset", "items"], rows))
    if labels:
        rows = [[name, *[stats.items_per_label.get(s, {}).get(name, 0) for s in subsets],
                 stats.annotations_per_label.get(name, 0)] for name in labels]  # fmt: skip
        result.tables.append(Table("Items per label", ["label", *subsets, "annotations"], rows))
    rows = sorted([k, v] for k, v in stats.annotations_per_type.items())
    result.tables.append(Table("Annotations per type", ["type", "count"], rows))
    result.plots = [Plot(title, png) for title, png in ops.stats_plots(stats)]
    result.summary = (f"{total} items in {len(subsets)} subsets, {len(labels)} labels, "
                      f"{sum(stats.annotations_per_type.values())} annotations")  # fmt: skip


def _size_summary(sizes: list[tuple[Any, Any]]) -> dict[str, Any]:
    """min/mean/max of each dimension (the full lists go into the plots, not run.json)."""
    if not sizes:
        return {"count": 0}
    out: dict[str, Any] = {"count": len(sizes)}
    for index, name in enumerate(("first", "second")):
        values = [s[index] for s in sizes]
        out[name] = {"min": min(values), "mean": round(sum(values) / len(values), 2), "max": max(values)}
    return out


def _validate(dataset: Any, section: DatasetSection, result: StageResult) -> None:
    from ovtool.backends import datumaro_ops as ops

    task = section.task or ops.guess_task(dataset)
    report = ops.validate(dataset, task)
    findings = report.get("validation_reports", [])
    summary = report.get("summary", {})
    errors = [f for f in findings if f.get("severity") == "error"]
    result.details |= {"task": task, "summary": summary, "findings": findings, "statistics": report.get("statistics")}
    result.metrics |= {k: Metric(summary.get(k, 0), "findings") for k in ("errors", "warnings", "infos")}
    order = {"error": 0, "warning": 1, "info": 2}
    rows = [[f.get("severity"), f.get("anomaly_type"), f.get("description"), f.get("item_id", ""), f.get("subset", "")]
            for f in sorted(findings, key=lambda f: order.get(f.get("severity", ""), 3))]  # fmt: skip
    result.tables.append(Table("Findings", ["severity", "type", "description", "item", "subset"], rows))
    result.summary = (f"validate ({task}): {summary.get('errors', 0)} errors, {summary.get('warnings', 0)} warnings, "
                      f"{summary.get('infos', 0)} infos")  # fmt: skip
    if errors:
        kinds = sorted({f.get("anomaly_type", "?") for f in errors})
        result.check_failures.append(f"validation found {len(errors)} errors ({', '.join(kinds)}); see report.md")


def _merge(dataset: Any, section: DatasetSection, ctx: StageContext, result: StageResult) -> Any:
    from ovtool.backends import datumaro_ops as ops

    others = []
    with contextlib.ExitStack() as stack:
        for other in section.merge_with or []:
            with ctx.step(f"read {other}"):
                ds, fmt, _ = stack.enter_context(_image_dataset(section, Path(other), section.format))
            others.append(ds)
            result.details.setdefault("merged", []).append({"path": other, "format": fmt, "items": len(ds)})
        with ctx.step(f"merge ({section.merge_policy})"):
            return ops.merge([dataset, *others], section.merge_policy)


# ---------------------------------------------------------------- encryption


def _encrypt(section: DatasetSection, path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.data.crypto import encrypt_folder, key_file_warning, load_or_create_key

    source = key_source(section)
    assert source is not None
    if is_encrypted(path):
        raise UserError(f"{path} is already encrypted")
    key, created = load_or_create_key(source)
    if created:
        console.info(f"generated a new key into {source.file} (mode 0600): keep it safe, there is no other copy")
    warning = key_file_warning(source)
    if warning:
        result.warnings.append(warning)
    with _plain_input(path) as root:
        fmt = section.format or _try_detect(root)
        with ctx.step("encrypt with Fernet"):
            facts = encrypt_folder(root, ctx.work_dir / DATASET_DIR, key, dataset_format=fmt)
    del key
    result.details |= {"dataset": DATASET_DIR, "key_source": source.describe(), "key_created": created,
                       "dataset_format": fmt, **facts}  # fmt: skip
    result.metrics["files"] = Metric(facts["files"], "files")
    result.metrics["plaintext_bytes"] = Metric(facts["plaintext_bytes"], "bytes")
    result.summary = f"encrypted {facts['files']} files into {DATASET_DIR}/ (key: {source.describe()})"


def _try_detect(root: Path) -> str | None:
    """The image dataset's format, recorded (encrypted) so readers know how to parse it; None if unknown
    (text data is detected again when read)."""
    if root.is_file() or _kind_of_contents(root) == "text":
        return None
    from ovtool.backends import datumaro_ops as ops

    return ops.pick(ops.detect(root).formats)


def _decrypt(section: DatasetSection, path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.data.crypto import decrypt_folder, load_key

    source = key_source(section)
    assert source is not None
    with ctx.step("decrypt"):
        facts = decrypt_folder(path, ctx.work_dir / DATASET_DIR, load_key(source), source)
    result.details |= {"dataset": DATASET_DIR, "key_source": source.describe(), **facts}
    result.metrics["files"] = Metric(facts["files"], "files")
    result.summary = f"decrypted {facts['files']} files into {DATASET_DIR}/"


# ---------------------------------------------------------------- text datasets


def _text_verb(section: DatasetSection, recipe: Recipe, path: Path, ctx: StageContext, result: StageResult) -> None:
    import datasets

    from ovtool.data import text as textdata

    datasets.disable_progress_bars()  # stderr carries ovtool's own progress lines
    if section.verb not in TEXT_VERBS:
        raise UserError(f"dataset {section.verb} reads image datasets (Datumaro); for text data use "
                        f"{', '.join(TEXT_VERBS)}, encrypt or decrypt")  # fmt: skip
    with ctx.step(f"read {path}"), _text_path(section, path) as root:
        ds = textdata.load_text_dataset(root, text_field=section.text_field, label_field=section.label_field or "label",
                                        fmt=section.format)  # fmt: skip
    names = textdata.label_names(ds)
    result.details |= {"kind": "text", "samples": len(ds), "labels": names}
    seed = _seed(section, recipe)
    if section.verb == "stats":
        with ctx.step("statistics"):
            _text_stats(ds, names, result)
        return
    out = ctx.work_dir / DATASET_DIR
    fmt = section.output_format or "jsonl"
    if section.verb == "split":
        with ctx.step("split"):
            parts = textdata.split_dataset(ds, ratios=section.ratios or {}, seed=seed, stratify=section.stratified)
    else:
        count = min(section.samples or len(ds), len(ds))
        parts = {"sample": ds.shuffle(seed=seed).select(range(count))}
    with ctx.step(f"write {fmt}"):
        for name, part in parts.items():
            _write_text(part, names, out, name, fmt)
    sizes = {name: len(part) for name, part in parts.items()}
    result.details |= {"dataset": DATASET_DIR, "output_format": fmt, "parts": sizes, "seed": seed}
    rows = [[name, size, *(_label_counts(parts[name], names).values() if names else [])]
            for name, size in sizes.items()]  # fmt: skip
    result.tables.append(Table("Parts written", ["part", "samples", *(names or [])], rows))
    result.metrics["samples"] = Metric(sum(sizes.values()), "samples", "samples written")
    written = ", ".join(f"{k} {v}" for k, v in sizes.items())
    result.summary = f"{section.verb}: {len(ds)} texts → {written} ({fmt})"


def _label_counts(ds: Any, names: list[str] | Any) -> dict[str, int]:
    counts = dict.fromkeys(names, 0)
    for label in ds["label"]:
        counts[names[label]] += 1
    return counts


def _text_stats(ds: Any, names: Any, result: StageResult) -> None:
    import statistics

    texts = list(ds["text"])
    chars = [len(t) for t in texts]
    words = [len(t.split()) for t in texts]
    duplicates = len(texts) - len(set(texts))
    result.metrics |= {
        "samples": Metric(len(texts), "samples"),
        "chars_mean": Metric(round(statistics.mean(chars), 1), "characters"),
        "chars_median": Metric(statistics.median(chars), "characters"),
        "words_mean": Metric(round(statistics.mean(words), 1), "words"),
        "words_max": Metric(max(words), "words"),
        "duplicate_texts": Metric(duplicates, "samples", "samples whose text equals an earlier sample's"),
    }
    counts = _label_counts(ds, names) if names else {}
    result.details |= {"samples_per_label": counts, "chars": {"min": min(chars), "max": max(chars)},
                       "words": {"min": min(words), "max": max(words)}}  # fmt: skip
    if counts:
        result.tables.append(Table("Samples per label", ["label", "samples"], [[k, v] for k, v in counts.items()]))
    result.plots = [Plot(title, png) for title, png in _text_plots(counts, words)]
    result.summary = f"{len(texts)} texts, {len(counts)} labels, {statistics.mean(words):.0f} words on average"


def _text_plots(counts: dict[str, int], words: list[int]) -> list[tuple[str, bytes]]:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    if counts:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(list(counts), list(counts.values()))
        ax.set_ylabel("samples")
        figures.append(("Samples per label", fig))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(words, bins=40)
    ax.set_xlabel("words per text")
    ax.set_ylabel("texts")
    figures.append(("Text length", fig))
    out = []
    for title, figure in figures:
        buffer = io.BytesIO()
        figure.tight_layout()
        figure.savefig(buffer, format="png", dpi=80)
        plt.close(figure)
        out.append((title, buffer.getvalue()))
    return out


def _write_text(ds: Any, names: Any, out: Path, part: str, fmt: str) -> None:
    """One part as jsonl/csv/parquet (label as its name) or as a folder per label of .txt files."""
    import csv

    rows = [{"text": row["text"], **({"label": names[row["label"]]} if names else {})} for row in ds]
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with open(out / f"{part}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        with open(out / f"{part}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["text"])
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "parquet":
        import datasets

        datasets.Dataset.from_list(rows).to_parquet(str(out / f"{part}.parquet"))
    else:
        for index, row in enumerate(rows):
            folder = out / part / row.get("label", "unlabeled")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index:06d}.txt").write_text(row["text"], encoding="utf-8")


# ---------------------------------------------------------------- feeding later stages of the same run

DATASET_REF = "@dataset"


def dataset_output(result: StageResult, ctx: StageContext) -> Path | None:
    """Where this stage's dataset was written (None for detect/stats/validate)."""
    rel = result.details.get("dataset")
    return ctx.work_dir / rel if rel else None


def resolve_dataset_refs(model: Any, dataset_dir: Path | None) -> Any:
    """A copy of `model` (the recipe, or any section) where every `path: "@dataset[/sub/path]"` points
    into the dataset stage's output. For the runner: the loaded recipe (and recipe.yaml) keep the
    reference; only the copy handed to later stages is resolved."""
    from pydantic import BaseModel

    if isinstance(model, BaseModel):
        updates = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            if name == "path" and isinstance(value, str) and _is_ref(value):
                updates[name] = _resolve_ref(value, dataset_dir)
            elif isinstance(value, (BaseModel, list, dict)):
                resolved = resolve_dataset_refs(value, dataset_dir)
                if resolved is not value:
                    updates[name] = resolved
        return model.model_copy(update=updates) if updates else model
    if isinstance(model, list):
        items = [resolve_dataset_refs(v, dataset_dir) for v in model]
        return items if any(a is not b for a, b in zip(items, model, strict=True)) else model
    if isinstance(model, dict):
        mapped = {k: resolve_dataset_refs(v, dataset_dir) for k, v in model.items()}
        return mapped if any(mapped[k] is not model[k] for k in model) else model
    return model


def _is_ref(value: str) -> bool:
    return value == DATASET_REF or value.startswith(DATASET_REF + "/")


def _resolve_ref(value: str, dataset_dir: Path | None) -> str:
    if dataset_dir is None:
        raise UserError(f"{value}: refers to the dataset stage, but this run has no `dataset:` section that "
                        "writes a dataset (convert, split, filter, merge, decrypt, sample)")  # fmt: skip
    sub = value[len(DATASET_REF) :].lstrip("/")
    return str(dataset_dir / safe_relpath(sub, value)) if sub else str(dataset_dir)
