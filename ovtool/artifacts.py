"""Run folders: a staging folder beside OUT, published by rename only when the run succeeded.

DESIGN.md asks for the staging folder inside OUT; it lives beside OUT instead (same parent, so the
same filesystem) because a folder nested in OUT cannot be renamed into OUT's place, and a failed
run must leave the previous OUT untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from types import TracebackType

from ovtool.out_policy import Inputs, check_creatable, check_out, out_path, write_marker

STAGING_PREFIX = ".ovtool-staging-"


def is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


class RunFolder:
    """`with RunFolder(out, overwrite) as staging:` write into staging; publish() on success.

    Leaving the block without publish() (error, Ctrl-C) deletes the staging folder and keeps
    whatever OUT held before.
    """

    def __init__(self, out: Path, overwrite: bool, inputs: Inputs | None = None) -> None:
        self.out = out_path(out)  # a symlinked OUT stays a symlink here, so check() can refuse it
        self.overwrite = overwrite
        self.inputs = list(inputs or [])  # (recipe key, path) of everything the run reads
        self.staging: Path | None = None
        self.published = False

    def check(self) -> None:
        """The OUT policy (out_policy.check_out): what OUT may be, and what --overwrite may replace."""
        check_out(self.out, self.overwrite, self.inputs)

    def check_creatable(self) -> None:
        """Preflight: OUT's parent exists as a writable folder or can be made (probed, nothing left)."""
        check_creatable(self.out, f"{STAGING_PREFIX}{self.out.name}-probe-")

    def __enter__(self) -> Path:
        self.check()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.staging = self.out.parent / f"{STAGING_PREFIX}{self.out.name}-{uuid.uuid4().hex[:8]}"
        self.staging.mkdir()
        write_marker(self.staging)  # published with the run: a later --overwrite may replace it
        return self.staging

    def publish(self) -> Path:
        """Swap the staging folder into OUT: two renames, the old OUT removed only afterwards."""
        assert self.staging is not None
        self.check()
        old: Path | None = None
        if self.out.exists():
            old = self.out.parent / f"{STAGING_PREFIX}{self.out.name}-old-{uuid.uuid4().hex[:8]}"
            os.replace(self.out, old)
        try:
            os.replace(self.staging, self.out)
        except OSError:
            if old is not None:
                os.replace(old, self.out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.published = True
        return self.out

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.published and self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_path(path: Path) -> str:
    """A file's sha256, or a folder's: the hash of its files' relative paths and hashes."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def dir_size_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
