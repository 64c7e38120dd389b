"""Scratch folders that say who owns them, so the leftovers of a killed run can be found and removed.

SIGKILL cannot be handled: a staging folder, an extracted archive or decrypted plaintext in /dev/shm
outlives the process that made it. Each such folder holds an owner file (PID + the process's start
time, so a reused PID is not mistaken for the owner); `sweep_dead()` removes the folders whose owner
is gone. The next ovtool run calls it, and so does `ovtool clean`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

OWNER_FILE = ".ovtool-owner"
# every scratch folder ovtool makes starts with one of these (the staging prefix lives in artifacts.py)
SCRATCH_PREFIXES = ("ovtool-",)
RAM_ROOT = Path("/dev/shm")


def _start_time(pid: int) -> str | None:
    """The process's start time as the kernel reports it (None when there is no such process)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir() and Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except OSError:
            return None
        # field 22 (starttime) counted after the command name, which may hold spaces and ')'
        return text.rsplit(")", 1)[1].split()[19]
    try:
        import psutil

        return str(psutil.Process(pid).create_time())
    except Exception:  # psutil.NoSuchProcess, AccessDenied, or psutil missing: treat as gone
        return None


def write_owner(folder: Path) -> None:
    """Mark `folder` as owned by this process."""
    owner = {"pid": os.getpid(), "start": _start_time(os.getpid()), "host": socket.gethostname()}
    (folder / OWNER_FILE).write_text(json.dumps(owner))


def release(folder: Path) -> None:
    """Drop the owner mark (before a staging folder is published as OUT)."""
    with contextlib.suppress(FileNotFoundError):
        (folder / OWNER_FILE).unlink()


def owned_dir(prefix: str, parent: Path | None = None, mode: int = 0o700) -> Path:
    """mkdtemp with an owner mark; the caller removes it (or uses `owned_tempdir`)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=str(parent) if parent else None))
    os.chmod(folder, mode)
    write_owner(folder)
    return folder


@contextlib.contextmanager
def owned_tempdir(prefix: str, parent: Path | None = None, mode: int = 0o700) -> Iterator[Path]:
    """Like tempfile.TemporaryDirectory, but findable by `sweep_dead` if this process is killed."""
    folder = owned_dir(prefix, parent, mode)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Leftover:
    path: Path
    pid: int


def owner_alive(folder: Path) -> bool | None:
    """True/False for a folder with a readable owner mark from this host; None when it has none."""
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
        pid, start, host = int(owner["pid"]), owner.get("start"), owner.get("host")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if host not in (None, socket.gethostname()):
        return True  # another machine's run on a shared filesystem: never ours to judge
    now = _start_time(pid)
    return now is not None and (start is None or now == start)


def default_roots() -> list[Path]:
    roots = [Path(tempfile.gettempdir())]
    if RAM_ROOT.is_dir():
        roots.append(RAM_ROOT)
    return roots


def find_dead(roots: Iterable[Path] | None = None, prefixes: tuple[str, ...] = SCRATCH_PREFIXES) -> list[Leftover]:
    """Folders under `roots` named with one of `prefixes` whose owner process is gone."""
    dead = []
    for root in roots if roots is not None else default_roots():
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(prefixes) or entry.is_symlink() or not entry.is_dir():
                continue
            if owner_alive(entry) is False:
                owner = json.loads((entry / OWNER_FILE).read_text())
                dead.append(Leftover(entry, int(owner["pid"])))
    return dead


def sweep_dead(roots: Iterable[Path] | None = None, prefixes: tuple[str, ...] = SCRATCH_PREFIXES) -> list[Leftover]:
    """Remove the folders of dead owners; returns what was removed."""
    removed = []
    for leftover in find_dead(roots, prefixes):
        shutil.rmtree(leftover.path, ignore_errors=True)
        if not leftover.path.exists():
            removed.append(leftover)
    return removed
