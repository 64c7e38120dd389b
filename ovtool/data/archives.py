"""Strict, bounded extraction of .zip/.tar dataset archives (the rules docs/dataset.md states).

An archive is untrusted input: it may try to write outside its folder or fill the disk. So:
- only regular files and directories are extracted; a symlink, hardlink, device, FIFO or socket
  member refuses the whole archive (a zip's type comes from the Unix mode in `external_attr`);
- a member path must be relative and plain: absolute (`/etc/x`, `C:/x`), empty or any `..`
  component refuses the whole archive (never silently re-rooted);
- the total uncompressed size and the member count are bounded: checked from the archive's index
  before anything is written, and the bytes actually written are counted while extracting
  (declared sizes can lie), so a bomb stops at the limit.
Every refusal is a UserError (exit 2) naming the member or the limit; the caller owns `dest` and
removes it (it is an `ovtool.scratch` folder).
"""

from __future__ import annotations

import gzip
import lzma
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ovtool.errors import UserError

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ARCHIVE_SUFFIXES = ZIP_SUFFIXES + TAR_SUFFIXES
_CHUNK = 1 << 20
_ZIP_TYPES = {stat.S_IFLNK: "symlink", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
              stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}  # fmt: skip


@dataclass(frozen=True)
class Limits:
    """How much one archive may expand to; `hint` says how the user raises them."""

    max_bytes: int
    max_members: int
    hint_bytes: str = "raise the limit"
    hint_members: str = "raise the limit"


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def member_path(name: str, archive: Path) -> PurePosixPath:
    """A member's path, if it is relative and has no `..`; anything else refuses the archive."""
    rel = PurePosixPath(name.replace("\\", "/"))
    parts = rel.parts
    if not parts or rel.is_absolute() or ".." in parts or ":" in parts[0]:
        raise UserError(f"{archive}: member {name!r} would be written outside the dataset folder "
                        "(absolute path or `..`); refusing the archive")  # fmt: skip
    return rel


def _refuse_type(archive: Path, name: str, kind: str) -> UserError:
    return UserError(f"{archive}: member {name!r} is a {kind}; dataset archives may hold only files and "
                     "folders, refusing the archive (extract it yourself and pass the folder)")  # fmt: skip


class _Budget:
    """Counts members and bytes against the limits; raises the one-line UserError on excess."""

    def __init__(self, archive: Path, limits: Limits) -> None:
        self.archive, self.limits = archive, limits
        self.members = 0
        self.bytes = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise UserError(f"{self.archive}: more than {self.limits.max_members:,} members (the archive member "
                            f"limit); {self.limits.hint_members}")  # fmt: skip

    def add(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.limits.max_bytes:
            raise UserError(f"{self.archive}: expands to more than {self.limits.max_bytes:,} bytes (the archive "
                            f"size limit); {self.limits.hint_bytes}")  # fmt: skip


def copy_bounded(src: IO[bytes], target: Path, budget: _Budget) -> None:
    """Write `src` to `target`, counting every byte actually written against the budget."""
    with open(target, "wb") as out:
        while chunk := src.read(_CHUNK):
            budget.add(len(chunk))
            out.write(chunk)


def extract_archive(archive: Path, dest: Path, limits: Limits) -> None:
    """Extract a .zip/.tar archive into the empty folder `dest` under the rules above."""
    try:
        if archive.name.lower().endswith(ZIP_SUFFIXES):
            _extract_zip(archive, dest, limits)
        else:
            _extract_tar(archive, dest, limits)
    except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
        raise UserError(f"{archive}: members clash ({exc.strerror}: {exc.filename}); refusing the archive") from exc


def _extract_zip(archive: Path, dest: Path, limits: Limits) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            plan = _zip_plan(zf, archive, limits)
            budget = _Budget(archive, limits)
            for info, rel, is_dir in plan:
                target = dest / rel
                if is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    copy_bounded(src, target, budget)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise UserError(f"{archive}: not a readable zip archive ({exc})") from exc


def _zip_plan(zf: zipfile.ZipFile, archive: Path, limits: Limits) -> list[tuple[zipfile.ZipInfo, PurePosixPath, bool]]:
    """Every member checked (type, path, declared totals) before the first byte is written."""
    declared = _Budget(archive, limits)
    checked = []
    for info in zf.infolist():
        declared.member()
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind in _ZIP_TYPES:
            raise _refuse_type(archive, info.filename, _ZIP_TYPES[kind])
        if info.flag_bits & 0x1:
            raise UserError(f"{archive}: member {info.filename!r} is password-protected; refusing the archive")
        rel = member_path(info.filename, archive)
        is_dir = info.is_dir() or kind == stat.S_IFDIR
        if not is_dir:
            declared.add(info.file_size)
        checked.append((info, rel, is_dir))
    return checked


def _extract_tar(archive: Path, dest: Path, limits: Limits) -> None:
    try:
        with tarfile.open(archive) as tf:
            plan = _tar_plan(tf, archive, limits)
            budget = _Budget(archive, limits)
            for info, rel in plan:
                target = dest / rel
                if info.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(info)
                assert src is not None  # a regular member always has a file object
                with src:
                    copy_bounded(src, target, budget)
    except (tarfile.TarError, zlib.error, EOFError, lzma.LZMAError, gzip.BadGzipFile) as exc:
        raise UserError(f"{archive}: not a readable tar archive ({exc})") from exc
    except OSError as exc:
        if exc.errno is not None:
            raise  # a real filesystem problem (disk full, permissions, clashing members): not a corrupt stream
        raise UserError(f"{archive}: not a readable tar archive ({exc})") from exc  # bz2: "Invalid data stream"


def _tar_plan(tf: tarfile.TarFile, archive: Path, limits: Limits) -> list[tuple[tarfile.TarInfo, PurePosixPath]]:
    """Every member checked (type, path, totals) from the headers before the first byte is written;
    iterating stops at the member limit, so a million-member archive is not indexed whole."""
    declared = _Budget(archive, limits)
    checked = []
    for info in tf:
        declared.member()
        if not (info.isreg() or info.isdir()):
            raise _refuse_type(archive, info.name, _tar_kind(info))
        rel = member_path(info.name, archive)
        if info.isreg():
            declared.add(info.size)
        checked.append((info, rel))
    return checked


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.issym():
        return f"symlink (to {info.linkname!r})"
    if info.islnk():
        return f"hardlink (to {info.linkname!r})"
    if info.ischr():
        return "character device"
    if info.isblk():
        return "block device"
    if info.isfifo():
        return "FIFO"
    return f"member of tar type {info.type!r}"
