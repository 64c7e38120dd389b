"""One ovtool run per OUT at a time: an exclusive flock on a lock file beside OUT.

Two runs publishing into the same OUT would race (the last writer wins, or a rename fails and
orphans the previous OUT). The lock lives beside OUT, not inside it, because OUT itself is
replaced by the publish; the kernel drops a flock when its process dies, so a killed run never
leaves a stale lock behind, and the file itself is removed when the run ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ovtool import console
from ovtool.errors import UserError

LOCK_PREFIX = ".ovtool-lock-"


def lock_path(out: Path) -> Path:
    """The lock file for OUT (from out_policy.out_path): `.ovtool-lock-<name>` in OUT's parent."""
    name = out.name if len(out.name) <= 200 else hashlib.sha256(out.name.encode()).hexdigest()[:32]
    return out.parent / f"{LOCK_PREFIX}{name}"


def _holder(fd: int) -> str:
    """The PID the holder wrote into the lock file (it writes it right after locking)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.05)
    return "unknown"


def _is_current(fd: int, path: Path) -> bool:
    """True when `fd` is still the file at `path` (the previous holder unlinks it on release)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def out_lock(out: Path, wait: bool) -> Iterator[None]:
    """Hold OUT's lock for the block; busy → UserError naming the holder, or wait when `wait`."""
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    announced = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as busy:
                holder = _holder(fd)
                if not wait:
                    raise UserError(
                        f"{out} is being written by another ovtool run (pid {holder}); pass --wait to wait"
                    ) from busy
                if not announced:
                    console.info(f"waiting: {out} is being written by another ovtool run (pid {holder})")
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        if _is_current(fd, path):
            break
        os.close(fd)  # locked a file its holder had already removed: lock the current one instead
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still holding the lock, so a waiter sees it is stale and retries
        os.close(fd)
