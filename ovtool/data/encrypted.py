"""Read an encrypted dataset (ovtool.data.crypto) for other stages without writing plaintext to disk.

Two ways, chosen by format (the Datumaro side is ovtool.backends.datumaro.encrypted):
- image classification folders (imagenet, imagenet_with_subset_dirs, image_dir) are rebuilt as a
  Datumaro dataset straight from the decrypted bytes: nothing is written anywhere;
- every other format goes through a folder in RAM-backed tmpfs (/dev/shm, mode 0700, removed when
  the `with` block ends), because Datumaro's importers and `datasets` read from paths. That folder is
  memory, not disk; it is refused when /dev/shm is not a tmpfs. It is an `ovtool.scratch` folder
  (owner-marked), so plaintext left by a SIGKILLed run is removed by the next run's sweep.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ovtool.data.crypto import KeySource, decrypt_entry, load_key, open_index, safe_relpath
from ovtool.errors import UserError

IN_MEMORY_FORMATS = ("imagenet", "imagenet_with_subset_dirs", "image_dir")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
RAM_ROOT = Path("/dev/shm")
PLAIN_PREFIX = "ovtool-plain-"


class EncryptedDataset:
    """An encrypted folder opened with its key: the file list, and each file's plaintext on demand."""

    def __init__(self, path: Path, source: KeySource) -> None:
        self.path = path
        self._fernet, index = open_index(path, load_key(source), source)
        self._entries = {e["path"]: e for e in index["files"]}
        self.dataset_format: str | None = index.get("dataset_format")

    @property
    def files(self) -> list[str]:
        return list(self._entries)

    def read(self, relpath: str) -> bytes:
        """One file's plaintext (hash-checked), in memory only."""
        if relpath not in self._entries:
            raise UserError(f"{self.path}: no file {relpath!r} in the encrypted dataset")
        return decrypt_entry(self.path, self._fernet, self._entries[relpath])

    @contextlib.contextmanager
    def in_ram_folder(self) -> Iterator[Path]:
        """The plaintext as a folder in tmpfs for the duration of the block (removed even on errors)."""
        if not _is_tmpfs(RAM_ROOT):
            raise UserError(f"{RAM_ROOT} is not a RAM-backed tmpfs: decrypt this {self.dataset_format} dataset "
                            "with `ovtool dataset decrypt` instead")  # fmt: skip
        from ovtool import scratch

        # owner-marked (mode 0700): if this run is SIGKILLed, the next run's sweep removes the plaintext
        with scratch.owned_tempdir(PLAIN_PREFIX, parent=RAM_ROOT) as scratch_dir:
            folder = scratch_dir / "files"  # the owner mark stays beside the plaintext, not in it
            folder.mkdir()
            for rel in self._entries:
                target = folder / safe_relpath(rel, str(self.path))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.read(rel))
            yield folder


def _is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(line.split()[1] == str(path) and line.split()[2] == "tmpfs" for line in mounts if len(line.split()) > 2)


@contextlib.contextmanager
def open_plain_folder(path: Path, source: KeySource) -> Iterator[Path]:
    """The plaintext as a RAM folder (text datasets, any reader that needs paths)."""
    with EncryptedDataset(path, source).in_ram_folder() as folder, named_as(folder, path):
        yield folder


@contextlib.contextmanager
def named_as(folder: Path, path: Path) -> Iterator[None]:
    """Errors about the RAM folder name the encrypted folder the user gave instead."""
    try:
        yield
    except UserError as exc:
        if str(folder) not in str(exc):
            raise
        raise UserError(str(exc).replace(str(folder), str(path))) from exc
