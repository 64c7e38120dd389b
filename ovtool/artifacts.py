"""Run folders: a staging folder beside OUT, published by rename only when the run succeeded.

DESIGN.md asks for the staging folder inside OUT; it lives beside OUT instead (same parent, so the
same filesystem) because a folder nested in OUT cannot be renamed into OUT's place, and a failed
run must leave the previous OUT untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from pathlib import Path
from types import TracebackType

from ovtool import scratch
from ovtool.interrupts import deferred
from ovtool.out_policy import Inputs, check_creatable, check_out, out_path, write_marker

STAGING_PREFIX = scratch.STAGING_PREFIX
# test-only: seconds publish() sleeps between its two renames, so a test can signal it exactly there
TEST_PUBLISH_PAUSE_ENV = "OVTOOL_TEST_PUBLISH_PAUSE"
_published: list[Path] = []  # every OUT this process published (so an interrupt message can say so)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `path` through a temp file in the same folder and a rename: a reader (a CI step, a resumed
    sweep, a second process) sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # a failed write leaves no temp file behind
            tmp.unlink()
        raise


def published_outs() -> list[Path]:
    """The OUT folders this process has published so far, oldest first."""
    return list(_published)


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
        staging = self.out.parent / f"{STAGING_PREFIX}{self.out.name}-{uuid.uuid4().hex[:8]}"
        # A signal between mkdir and the `with` body would leave an unmarked staging folder that neither
        # __exit__ (not reached yet) nor the leftover sweep (no owner mark) removes: hold signals off here.
        # A signal held off there is raised as the block ends, still inside __enter__, where `with` will not
        # call __exit__: that path removes the staging folder itself.
        try:
            with deferred():
                staging.mkdir()
                self.staging = staging
                scratch.write_owner(staging)  # a SIGKILLed run's staging is found and removed by the next run
                write_marker(staging)  # published with the run: a later --overwrite may replace it
        except BaseException:
            if self.staging is not None:
                scratch.remove(self.staging)
                self.staging = None
            raise
        return staging

    def publish(self) -> Path:
        """Swap the staging folder into OUT: two renames, the old OUT removed only afterwards.

        SIGINT/SIGTERM wait until both renames are done (interrupts.deferred), so a signal never
        leaves OUT missing; one that arrived meanwhile is raised right after, with OUT published.
        The old OUT carries an owner mark naming OUT: if SIGKILL lands between the renames, the
        next run puts it back; if removing it afterwards is cut short, the next run removes it.
        """
        assert self.staging is not None
        self.check()
        old: Path | None = None
        try:
            with deferred():
                if self.out.exists():
                    old = self.out.parent / f"{STAGING_PREFIX}{self.out.name}-old-{uuid.uuid4().hex[:8]}"
                    os.replace(self.out, old)
                    with contextlib.suppress(OSError):  # nothing may stop the second rename now
                        scratch.write_owner(old, restore_to=self.out)
                _test_pause()
                scratch.release(self.staging)  # OUT never carries an owner mark
                try:
                    os.replace(self.staging, self.out)
                except OSError:
                    if old is not None:
                        os.replace(old, self.out)
                        scratch.release(self.out)
                    with contextlib.suppress(OSError):
                        scratch.write_owner(self.staging)
                    raise
                self.published = True
                _published.append(self.out)
        finally:
            if old is not None and self.published:
                scratch.remove(old)
        return self.out

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.published and self.staging is not None:
            scratch.remove(self.staging)  # owner mark last: a second Ctrl-C leaves a sweepable folder


def _test_pause() -> None:
    """Test-only hook (OVTOOL_TEST_PUBLISH_PAUSE=SECONDS): stop inside publish's critical section."""
    with contextlib.suppress(ValueError):
        time.sleep(float(os.environ.get(TEST_PUBLISH_PAUSE_ENV) or 0))


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
