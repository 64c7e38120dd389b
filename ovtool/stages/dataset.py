"""The dataset stage: one verb on one dataset, the result under OUT/dataset/ for the stages after it.

Image datasets go through Datumaro (ovtool.backends.datumaro.datumaro_ops), text datasets through `datasets`
(ovtool.data.text), encryption through ovtool.data.crypto. Inputs may be folders, files, .zip/.tar
archives (extracted safely into a scratch folder that is never published) or ovtool-encrypted
folders (read with the key, plaintext only in memory).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.context import StageContext
from ovtool.data.archives import Limits, is_archive
from ovtool.data.crypto import KeySource, is_encrypted
from ovtool.data.encrypted import named_as
from ovtool.errors import UserError
from ovtool.recipe.sections.dataset import TEXT_OUTPUT_FORMATS, TEXT_VERBS, WRITING_VERBS, DatasetSection
from ovtool.results import Metric, StageResult, Table
from ovtool.stages.base import Stage
from ovtool.stages.dataset_stats import image_stats, image_validate
from ovtool.stages.dataset_text import label_counts, text_stats, write_text

DATASET_DIR = "dataset"
# Verbs whose written dataset the stage cache keeps: not encrypt/decrypt (a key is involved, and encrypt
# may write the key file), not the read-only verbs (stats, validate, detect: their figures are the point).
CACHED_VERBS = ("convert", "split", "filter", "merge", "sample")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
TEXT_FILE_SUFFIXES = (".txt", ".md", ".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".pq")


def _seed(section: DatasetSection, ctx: StageContext) -> int:
    return section.seed if section.seed is not None else ctx.seed


def key_source(section: DatasetSection) -> KeySource | None:
    if section.key_env:
        return KeySource(env=section.key_env)
    if section.key_file:
        return KeySource(file=Path(section.key_file).expanduser())
    return None


# ---------------------------------------------------------------- preflight


def preflight(section: DatasetSection, ctx: StageContext) -> None:
    """Cheap checks (--dry-run): OUT where the verb writes, inputs exist, keys are reachable."""
    output = ctx.input.output
    if output is None and (section.verb in WRITING_VERBS or section.verb == "stats"):
        raise UserError(f"dataset {section.verb} writes its result to OUT: pass -o OUT (or set `output:`)")
    for path in [section.path, *(section.merge_with or [])]:
        if path is not None and not Path(path).exists():
            raise UserError(f"dataset not found: {path}")
    source = key_source(section)
    if source is not None and source.file is not None and output is not None:
        out = output.resolve()
        if source.file.resolve().is_relative_to(out):
            raise UserError(f"key_file {source.file} is inside OUT {out}: keep the key outside the published folder")
    if section.verb == "encrypt" and source is not None and source.file is not None:
        _check_key_file_writable(source.file)
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
        from ovtool.backends.datumaro.datumaro_ops import check_expression

        check_expression(section.expression)
    if section.output_format is not None and kind == "image" and section.verb != "encrypt":
        from ovtool.backends.datumaro.datumaro_ops import check_output_format

        check_output_format(section.output_format)
    text_out = section.output_format is not None and kind == "text"
    if text_out and section.output_format not in TEXT_OUTPUT_FORMATS:
        raise UserError(f"text output_format {section.output_format!r}: use one of {', '.join(TEXT_OUTPUT_FORMATS)}")


def _check_key_file_writable(file: Path) -> None:
    """encrypt writes a missing key file after the work: refuse now a place where it could not be written."""
    if file.exists():
        return
    folder = file.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"key file {file} cannot be created ({folder} is not a writable folder): choose another path")


def _kind(section: DatasetSection) -> str:
    """text or image: from `kind`, the format name, or what the path holds."""
    from ovtool.data.text import FORMATS

    if section.kind is not None:
        return section.kind
    if section.format is not None:
        return "text" if section.format in FORMATS or section.format == "folder-per-label" else "image"
    path = Path(str(section.path))
    if is_encrypted(path) and section.verb in TEXT_VERBS:
        return _encrypted_kind(path, section)
    if is_encrypted(path) or is_archive(path):
        return "image" if section.verb not in TEXT_VERBS else _kind_of_contents(path)
    return _kind_of_contents(path)


def _encrypted_kind(path: Path, section: DatasetSection) -> str:
    """text when the encrypted index records no image format and holds only text files (what `encrypt`
    writes for text data); needs the key, so without one it is image (and reading asks for the key)."""
    source = key_source(section)
    if source is None:
        return "image"
    from ovtool.data.encrypted import EncryptedDataset

    encrypted = EncryptedDataset(path, source)
    text = encrypted.files and all(Path(f).suffix.lower() in TEXT_FILE_SUFFIXES for f in encrypted.files)
    return "text" if encrypted.dataset_format is None and text else "image"


def _kind_of_contents(path: Path) -> str:
    if path.is_file():
        return "text" if path.suffix.lower() in TEXT_FILE_SUFFIXES else "image"
    if not path.is_dir() or is_encrypted(path) or is_archive(path):
        return "image"
    files = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    has_text = any(p.suffix.lower() in (".txt", ".md") for p in files)
    only_text = all(p.suffix.lower() in TEXT_FILE_SUFFIXES for p in files)
    no_images = not any(p.suffix.lower() in IMAGE_SUFFIXES for p in files)
    return "text" if files and has_text and only_text and no_images else "image"


# ---------------------------------------------------------------- inputs


@contextlib.contextmanager
def _plain_input(path: Path, section: DatasetSection) -> Iterator[Path]:
    """A folder/file to read: an archive is extracted (ovtool.data.archives: strict and bounded) into an
    owner-marked scratch folder, removed afterwards and findable by `ovtool.scratch` if this run is killed."""
    if not is_archive(path):
        yield path
        return
    from ovtool import scratch
    from ovtool.data.archives import extract_archive

    with scratch.owned_tempdir("ovtool-archive-") as tmp:
        root = tmp / "files"  # the owner mark stays beside the data, not in it
        root.mkdir()
        extract_archive(path, root, archive_limits(section))
        children = [p for p in root.iterdir() if not p.name.startswith(".")]
        inner = children[0] if len(children) == 1 and children[0].is_dir() else root
        with named_as(inner, path):  # errors name the archive, not a scratch folder that is gone when read
            yield inner


def archive_limits(section: DatasetSection) -> Limits:
    """The section's archive limits, with the one-line hint the error gives for raising each."""
    size = int(section.archive_max_bytes)
    return Limits(
        max_bytes=size, max_members=section.archive_max_members,
        hint_bytes=f"raise it with --set dataset.archive_max_bytes={_size_text(2 * size)} "
                   "(or `archive_max_bytes:` in the recipe's dataset section)",
        hint_members=f"raise it with --set dataset.archive_max_members={2 * section.archive_max_members} "
                     "(or `archive_max_members:` in the recipe's dataset section)",
    )  # fmt: skip


def _size_text(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


@contextlib.contextmanager
def _image_dataset(section: DatasetSection, path: Path, fmt: str | None) -> Iterator[tuple[Any, str, Path]]:
    """(Datumaro dataset, its format, the folder it was read from) for any image input."""
    from ovtool.backends.datumaro import datumaro_ops as ops

    if is_encrypted(path):
        from ovtool.backends.datumaro.encrypted import open_datumaro

        source = key_source(section)
        if source is None:
            raise UserError(f"{path} is encrypted: give key_env or key_file (--key-env/--key-file)")
        with open_datumaro(path, source, fmt) as (dataset, plain_fmt), ops.reading(path):
            dataset.init_cache()
            yield dataset, plain_fmt, path
        return
    with _plain_input(path, section) as root:
        if fmt is None and section.kind is None and root != path and _kind_of_contents(root) == "text":
            raise UserError(f"{path} holds text data: pass --kind text (kind: text) to read it as text")
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
    with _plain_input(path, section) as root:
        yield root


# ---------------------------------------------------------------- run


def run(section: DatasetSection, ctx: StageContext) -> StageResult:
    from ovtool.library_errors import root_logs_as_detail

    path = Path(str(section.path))
    result = StageResult(stage="dataset")
    result.details = {"verb": section.verb, "path": str(path)}
    with root_logs_as_detail():  # Datumaro's `WARNING:root:…` lines: with -v only
        if section.verb == "encrypt":
            _encrypt(section, path, ctx, result)
        elif section.verb == "decrypt":
            _decrypt(section, path, ctx, result)
        elif _kind(section) == "text":
            _text_verb(section, path, ctx, result)
        else:
            _image_verb(section, path, ctx, result)
    return result


def _output(ctx: StageContext, result: StageResult) -> Path:
    """Where a writing verb puts its dataset; recorded on the result so `@dataset/...` in later stages reads it."""
    result.dataset_dir = ctx.work_dir / DATASET_DIR
    return result.dataset_dir


def _image_verb(section: DatasetSection, path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.backends.datumaro import datumaro_ops as ops

    if section.verb == "detect":
        _detect(section, path, ctx, result)
        return
    with contextlib.ExitStack() as stack:
        with ctx.step(f"read {path}"):
            dataset, fmt, root = stack.enter_context(_image_dataset(section, path, section.format))
        result.details["format"] = fmt
        if section.verb == "stats":
            with ctx.step("statistics"):
                image_stats(dataset, section, result)
            return
        if section.verb == "validate":
            with ctx.step("validate"):
                image_validate(dataset, section, result)
            return
        if section.verb == "merge":
            dataset = _merge(dataset, section, ctx, result)
        pipeline = ops.Pipeline(
            limit=section.limit, expression=section.expression, filter_annotations=section.filter_annotations,
            remove_empty=section.remove_empty, label_map=section.label_map, subset_map=section.subset_map,
            ratios=section.ratios, stratified=section.stratified, seed=_seed(section, ctx),
        )  # fmt: skip
        before = len(dataset)
        with ctx.step("transform"):
            dataset = ops.apply(dataset, pipeline, root)
        out_fmt = section.output_format or fmt
        with ctx.step(f"write {out_fmt}"):
            ops.export(dataset, _output(ctx, result), out_fmt, save_media=section.save_media,
                       image_ext=section.image_ext)  # fmt: skip
        subsets = {name: len(subset) for name, subset in dataset.subsets().items()}
    result.details |= {"output_format": out_fmt, "dataset": DATASET_DIR, "items_in": before,
                       "items_out": len(dataset), "subsets": subsets, "labels": ops.label_names(dataset),
                       "save_media": section.save_media}  # fmt: skip
    result.metrics["items"] = Metric(len(dataset), "items", "items written")
    result.tables.append(Table("Subsets written", ["subset", "items"], [[k, v] for k, v in sorted(subsets.items())]))
    result.summary = (f"{section.verb}: {before} items ({fmt}) → {len(dataset)} items as {out_fmt} in "
                      f"{DATASET_DIR}/ ({', '.join(f'{k} {v}' for k, v in sorted(subsets.items()))})")  # fmt: skip


def _detect(section: DatasetSection, path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.backends.datumaro import datumaro_ops as ops

    with ctx.step("detect format"), _plain_input(path, section) as root:
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


def _merge(dataset: Any, section: DatasetSection, ctx: StageContext, result: StageResult) -> Any:
    from ovtool.backends.datumaro import datumaro_ops as ops

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
    from ovtool.data.crypto import encrypt_folder, key_file_warning, load_or_new_key, save_new_key

    source = key_source(section)
    assert source is not None
    if is_encrypted(path):
        raise UserError(f"{path} is already encrypted")
    key, created = load_or_new_key(source)  # a new key stays in memory until the data is encrypted
    warning = key_file_warning(source)
    if warning:
        result.warnings.append(warning)
    with _plain_input(path, section) as root:
        fmt = section.format or _try_detect(root)
        with ctx.step("encrypt with Fernet"):
            facts = encrypt_folder(root, _output(ctx, result), key, dataset_format=fmt)
    if created:  # saved before OUT is published, so published data always has its key on disk
        assert source.file is not None
        save_new_key(source.file, key)
        console.info(f"generated a new key into {source.file} (mode 0600): keep it safe, there is no other copy")
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
    from ovtool.backends.datumaro import datumaro_ops as ops

    return ops.pick(ops.detect(root).formats)


def _decrypt(section: DatasetSection, path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.data.crypto import decrypt_folder, load_key

    source = key_source(section)
    assert source is not None
    with ctx.step("decrypt"):
        facts = decrypt_folder(path, _output(ctx, result), load_key(source), source)
    result.details |= {"dataset": DATASET_DIR, "key_source": source.describe(), **facts}
    result.metrics["files"] = Metric(facts["files"], "files")
    result.summary = f"decrypted {facts['files']} files into {DATASET_DIR}/"


# ---------------------------------------------------------------- text datasets


def _text_verb(section: DatasetSection, path: Path, ctx: StageContext, result: StageResult) -> None:
    from ovtool.data import text as textdata
    from ovtool.data.text_split import split_dataset

    textdata.disable_progress_bars()  # stderr carries ovtool's own progress lines
    if section.verb not in TEXT_VERBS:
        raise UserError(f"dataset {section.verb} reads image datasets (Datumaro); for text data use "
                        f"{', '.join(TEXT_VERBS)}, encrypt or decrypt")  # fmt: skip
    with ctx.step(f"read {path}"), _text_path(section, path) as root:
        ds = textdata.load_text_dataset(root, text_field=section.text_field, label_field=section.label_field or "label",
                                        fmt=section.format)  # fmt: skip
    names = textdata.label_names(ds)
    result.details |= {"kind": "text", "samples": len(ds), "labels": names}
    seed = _seed(section, ctx)
    if section.verb == "stats":
        with ctx.step("statistics"):
            text_stats(ds, names, result)
        return
    out = _output(ctx, result)
    fmt = section.output_format or "jsonl"
    if section.verb == "split":
        with ctx.step("split"):
            parts = split_dataset(ds, ratios=section.ratios or {}, seed=seed, stratify=section.stratified)
    else:
        count = min(section.samples or len(ds), len(ds))
        parts = {"sample": ds.shuffle(seed=seed).select(range(count))}
    with ctx.step(f"write {fmt}"):
        for name, part in parts.items():
            write_text(part, names, out, name, fmt)
    sizes = {name: len(part) for name, part in parts.items()}
    result.details |= {"dataset": DATASET_DIR, "output_format": fmt, "parts": sizes, "seed": seed}
    rows = [[name, size, *(label_counts(parts[name], names).values() if names else [])]
            for name, size in sizes.items()]  # fmt: skip
    result.tables.append(Table("Parts written", ["part", "samples", *(names or [])], rows))
    result.metrics["samples"] = Metric(sum(sizes.values()), "samples", "samples written")
    written = ", ".join(f"{k} {v}" for k, v in sizes.items())
    result.summary = f"{section.verb}: {len(ds)} texts → {written} ({fmt})"


STAGE = Stage(name="dataset", section_type=DatasetSection, run=run, preflight=preflight, needs_model=False,
              needs_output=False,  # detect and validate run without OUT; preflight asks for it where a verb writes
              produces_model=False, cache="artifact", cache_when=lambda s: s.verb in CACHED_VERBS,
              libraries=("datumaro", "datasets", "pyarrow"))  # fmt: skip
