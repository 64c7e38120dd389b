"""Datumaro datasets read from an encrypted folder (ovtool.data.encrypted) without plaintext on disk.

Image classification layouts are rebuilt from the decrypted bytes in memory; other formats are imported
from the RAM-backed plaintext folder that `EncryptedDataset.in_ram_folder` provides.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from ovtool.backends.datumaro import datumaro_ops as ops
from ovtool.data.crypto import KeySource
from ovtool.data.encrypted import IMAGE_SUFFIXES, IN_MEMORY_FORMATS, EncryptedDataset, named_as
from ovtool.errors import UserError


@contextlib.contextmanager
def open_datumaro(path: Path, source: KeySource, fmt: str | None = None) -> Iterator[Any]:
    """`with open_datumaro(folder, KeySource(env=...)) as (dataset, fmt):` a Datumaro Dataset of the
    plaintext and the format it was read as."""
    encrypted = EncryptedDataset(path, source)
    fmt = fmt or encrypted.dataset_format
    if fmt is None:
        raise UserError(f"{path}: the encrypted dataset does not record its format: set format")
    ops.resolve_format(path, fmt)  # an unknown format is refused before anything is decrypted
    if fmt in IN_MEMORY_FORMATS:
        yield classification_in_memory(encrypted, fmt), fmt
        return
    with encrypted.in_ram_folder() as folder, named_as(folder, path):
        yield ops.import_dataset(folder, fmt), fmt


def classification_in_memory(encrypted: EncryptedDataset, fmt: str) -> Any:
    """Label-per-folder images → a Datumaro Dataset built from decrypted bytes (no file written)."""
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType, Label, LabelCategories
    from datumaro.components.media import Image

    rows: list[tuple[str, str, str | None, str]] = []  # (id, subset, label, relpath)
    for rel in encrypted.files:
        parts = PurePosixPath(rel)
        if parts.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        names = parts.parts
        if fmt == "image_dir":
            rows.append((str(parts.with_suffix("")), "default", None, rel))
        elif fmt == "imagenet" and len(names) >= 2:
            rows.append((f"{names[-2]}:{parts.stem}", "default", names[-2], rel))
        elif fmt == "imagenet_with_subset_dirs" and len(names) >= 3:
            rows.append((f"{names[-2]}:{parts.stem}", names[0], names[-2], rel))
    if not rows:
        raise UserError(f"{encrypted.path}: no images laid out as {fmt} in the encrypted dataset")
    labels = sorted({r[2] for r in rows if r[2] is not None})
    categories = LabelCategories.from_iterable(labels)
    items = [
        dm.DatasetItem(id=item_id, subset=subset, media=Image.from_bytes(encrypted.read(rel)),
                       annotations=[Label(labels.index(label))] if label is not None else [])
        for item_id, subset, label, rel in rows
    ]  # fmt: skip
    return dm.Dataset.from_iterable(items, categories={AnnotationType.label: categories})
