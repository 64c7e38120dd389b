"""File-level helpers of the cache: walk a folder, copy while hashing, hard-link with a copy fallback.

Kept apart from store.py so the entry logic (verify, publish by rename, locks) reads on its own. The walk
and the folder hash follow `ovtool.artifacts.sha256_path` exactly (same files, same order, same digest
lines), so a folder hashed through the index equals the input hash run.json has always recorded.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1 << 20
# a hard link fails with these when the cache and the run folder are on different filesystems (or the
# filesystem has no hard links / too many links to one inode): the file is copied instead
LINK_FALLBACK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES}


def folder_files(folder: Path) -> list[Path]:
    """Regular files under `folder` (symlinks to files followed, symlinked folders not), in hash order."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def folder_digest(items: Iterable[tuple[str, str]]) -> str:
    """A folder's hash from (relative posix path, file sha256) in `folder_files` order."""
    digest = hashlib.sha256()
    for rel, sha in items:
        digest.update(f"{rel}\0{sha}\n".encode())
    return digest.hexdigest()


def copy_hashing(src: Path, dst: Path) -> str:
    """Copy `src` to `dst` (mode and times kept) reading it once; returns its sha256."""
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while block := fin.read(CHUNK):
            digest.update(block)
            fout.write(block)
    shutil.copystat(src, dst)
    return digest.hexdigest()


def link_or_copy(src: Path, dst: Path) -> bool:
    """Hard-link `src` at `dst` (replacing a file there); copy when linking is impossible. True: linked."""
    with contextlib.suppress(FileNotFoundError):
        dst.unlink()
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno not in LINK_FALLBACK:
            raise
    shutil.copy2(src, dst)
    return False


def tree_bytes(folder: Path, seen: set[tuple[int, int]] | None = None) -> int:
    """Bytes of the regular files under `folder`, each inode counted once (hard links inside `seen`)."""
    seen = set() if seen is None else seen
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def shared_bytes(folder: Path) -> int:
    """Bytes of files under `folder` that have other hard links (a run folder holds them too)."""
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                if st.st_nlink > 1:
                    total += st.st_size
    return total
