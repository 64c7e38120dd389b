"""The one table from library and OS exceptions to (one-line message, exit code).

`guarded` (cli/common.py) asks `describe_failure` about any exception that is not an OvtoolError;
backends that know more (what was being written, how big it is) raise `no_space_error` themselves.
No heavy imports here: this module is loaded only after a command failed.

A full disk exits 1, not 2: the inputs and options are valid and the same command succeeds once
there is room (DESIGN: 2 means "fix your command", 1 means "the work failed").
"""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from ovtool.errors import SHORT_LIMIT, WorkFailed, shorten

TRACEBACK_HINT = "(run with OVTOOL_DEBUG=1 for the traceback)"
_LONG_WORD = re.compile(rf"\S{{{SHORT_LIMIT + 1},}}")
LINE_LIMIT = 1000
IOSTREAM_ERROR = "basic_ios::clear"  # what OpenVINO's save_model says when a write fails
OPENVINO_READ_ERRORS = ("Unable to read the model", "bin file", "Cannot recognize input model")


def describe_failure(exc: BaseException) -> tuple[str, int] | None:
    """(message, exit code) for an error ovtool knows how to explain, else None."""
    for cause in _chain(exc):
        if _errno(cause) == errno.ENOSPC:
            return no_space_message(_filename(cause), getattr(cause, "needed_bytes", None)), 1
        if _errno(cause) == errno.ENAMETOOLONG:
            name = _filename(cause)
            what = f": {shorten(name)}" if name else ""
            return f"path too long for this system (at most 255 bytes a name, 4096 a path){what}", 2
    if isinstance(exc, RuntimeError) and str(exc).lstrip().startswith(("Exception from src/", "Check '")):
        from ovtool.library_errors import openvino_message

        message = openvino_message(exc)
        if any(marker in message for marker in OPENVINO_READ_ERRORS):
            return f"cannot read the model: {message}", 2
        return f"OpenVINO: {message} {TRACEBACK_HINT}", 1
    if IOSTREAM_ERROR in str(exc):
        return f"a write failed ({str(exc).strip()}): is the disk full or the folder read-only? {TRACEBACK_HINT}", 1
    return None


def is_no_space(exc: BaseException) -> bool:
    """Did `exc` (or what caused it) fail for lack of space (ENOSPC)?"""
    return any(_errno(cause) == errno.ENOSPC for cause in _chain(exc))


def clip_message(message: str) -> str:
    """Every long word (a path, an argument) cut to ~200 characters, every line to ~1000."""
    lines = [_LONG_WORD.sub(lambda m: shorten(m.group(0)), line) for line in message.splitlines() or [""]]
    return "\n".join(shorten(line, LINE_LIMIT) for line in lines)


def no_space_message(where: str | os.PathLike[str] | None, needed_bytes: int | None = None) -> str:
    """'no space left on DEVICE (mounted at M) for FOLDER, needed ~N MB: …'.

    No "MB free": measured before the staging folder is removed, it would read ~0.
    """
    needed = f", needed ~{_mb(needed_bytes)} MB" if needed_bytes else ""
    if not where:
        return f"no space left on the device being written{needed}: free some space or write OUT elsewhere"
    folder = Path(where)
    existing = _existing_ancestor(folder)
    mount = _mount_point(existing)
    device = _device_of(mount)
    return (
        f"no space left on {device} (mounted at {shorten(mount)}) for {shorten(folder)}{needed}: "
        "free some space there or choose an OUT on another filesystem"
    )


def no_space_error(where: str | os.PathLike[str], needed_bytes: int | None) -> WorkFailed:
    """The error to raise when a write into `where` failed for lack of space."""
    return WorkFailed(no_space_message(where, needed_bytes))


def is_disk_full(where: str | os.PathLike[str], needed_bytes: int) -> bool:
    """After a failed write: is the filesystem holding `where` too full for `needed_bytes`?"""
    try:
        return shutil.disk_usage(_existing_ancestor(Path(where))).free < max(needed_bytes, 1)
    except OSError:
        return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _errno(exc: BaseException) -> int | None:
    if not isinstance(exc, OSError):
        return None
    if exc.errno is not None:
        return exc.errno
    # shutil.Error (copytree) carries a list of (src, dst, "[Errno 28] …") instead of an errno
    for code in (errno.ENOSPC, errno.ENAMETOOLONG):
        if f"[Errno {code}]" in str(exc):
            return code
    return None


def _filename(exc: BaseException) -> str | None:
    name = getattr(exc, "filename", None)
    if name is None and isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        entries = [e for e in exc.args[0] if isinstance(e, tuple) and len(e) == 3]
        name = entries[0][1] if entries else None
    return os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else None


def _existing_ancestor(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except OSError:
            continue
    return Path("/")


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _device_of(mount: Path) -> str:
    """The device (or filesystem type, for tmpfs/overlay) /proc/mounts names for a mount point."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return str(mount)
    for line in reversed(lines):  # the last mount on a point is the visible one
        fields = line.split()
        if len(fields) >= 3 and fields[1].replace("\\040", " ") == str(mount):
            return fields[0]
    return str(mount)


def _mb(size: int) -> int:
    return max(1, math.ceil(size / 2**20))
