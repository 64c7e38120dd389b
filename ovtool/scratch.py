"""Scratch folders that say who owns them, so the leftovers of a killed run can be found and removed.

SIGKILL cannot be handled: a staging folder, an extracted archive or decrypted plaintext in /dev/shm
outlives the process that made it. Each such folder holds an owner file (PID + the process's start
time, so a reused PID is not mistaken for the owner); `sweep_dead()` removes the folders whose owner
is gone. The next ovtool run calls it (`sweep_and_report`), and so does `ovtool clean`.

A previous OUT moved aside during publish (`-old-`) also records where it came from: if the run was
killed before the new OUT took its place, the sweep puts it back instead of deleting it.
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
# every scratch folder ovtool makes in a scratch root starts with one of these
SCRATCH_PREFIXES = ("ovtool-",)
# staging folders (and a moved-aside previous OUT) live beside OUT with this prefix (see artifacts.py)
STAGING_PREFIX = ".ovtool-staging-"
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


def write_owner(folder: Path, restore_to: Path | None = None) -> None:
    """Mark `folder` as owned by this process; `restore_to`: where it goes back if the owner dies."""
    owner: dict[str, object] = {"pid": os.getpid(), "start": _start_time(os.getpid()), "host": socket.gethostname()}
    if restore_to is not None:
        owner["restore_to"] = str(restore_to)
    (folder / OWNER_FILE).write_text(json.dumps(owner))


def release(folder: Path) -> None:
    """Drop the owner mark (before a staging folder is published as OUT)."""
    with contextlib.suppress(FileNotFoundError):
        (folder / OWNER_FILE).unlink()


def remove(folder: Path) -> None:
    """Delete an owned folder, its owner mark last: cut short, what is left can still be swept."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in list(folder.iterdir()):
            if entry.name == OWNER_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
    release(folder)
    with contextlib.suppress(OSError):
        folder.rmdir()


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
        remove(folder)


@dataclass(frozen=True)
class Leftover:
    path: Path
    pid: int
    restore_to: Path | None = None  # a previous OUT moved aside by a publish that was killed


@dataclass(frozen=True)
class _Owner:
    pid: int
    start: str | None
    host: str | None
    restore_to: Path | None


def _read_owner(folder: Path) -> _Owner | None:
    try:
        raw = json.loads((folder / OWNER_FILE).read_text())
        restore = raw.get("restore_to")
        return _Owner(int(raw["pid"]), raw.get("start"), raw.get("host"), Path(restore) if restore else None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _alive(owner: _Owner) -> bool:
    if owner.host not in (None, socket.gethostname()):
        return True  # another machine's run on a shared filesystem: never ours to judge
    now = _start_time(owner.pid)
    return now is not None and (owner.start is None or now == owner.start)


def owner_alive(folder: Path) -> bool | None:
    """True/False for a folder with a readable owner mark from this host; None when it has none."""
    owner = _read_owner(folder)
    return None if owner is None else _alive(owner)


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
            entries = sorted(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(prefixes) or entry.is_symlink() or not entry.is_dir():
                continue
            owner = _read_owner(entry)
            if owner is None or _alive(owner):
                continue
            # a moved-aside OUT goes back only where nothing took its place
            restore = owner.restore_to
            if restore is not None and (restore.exists() or restore.is_symlink()):
                restore = None
            dead.append(Leftover(entry, owner.pid, restore))
    return dead


def _put_back(leftover: Leftover) -> bool:
    """A killed publish left the previous OUT only under its `-old-` name: rename it back."""
    target = leftover.restore_to
    if target is None or target.exists() or target.is_symlink():
        return False
    try:
        os.replace(leftover.path, target)
    except OSError:
        return False
    release(target)
    return True


def sweep_dead(roots: Iterable[Path] | None = None, prefixes: tuple[str, ...] = SCRATCH_PREFIXES) -> list[Leftover]:
    """Remove the folders of dead owners (or put a moved-aside OUT back); returns what was done."""
    done = []
    for leftover in find_dead(roots, prefixes):
        if _put_back(leftover):
            done.append(leftover)
            continue
        remove(leftover.path)
        if not leftover.path.exists():
            done.append(Leftover(leftover.path, leftover.pid))  # removed, not restored
    return done


def sweep_everywhere(beside: Iterable[Path] = (), dry_run: bool = False) -> list[Leftover]:
    """Scratch roots (tmp, /dev/shm) and the staging folders in each folder of `beside`.

    In a folder the user names both kinds count: it may be a scratch root itself.
    """
    found: list[Leftover] = []
    act = find_dead if dry_run else sweep_dead
    found += act(default_roots(), SCRATCH_PREFIXES)
    seen = {p.resolve() for p in default_roots()}
    for folder in beside:
        if folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        found += act([folder], (STAGING_PREFIX, *SCRATCH_PREFIXES))
    return found


def describe(done: list[Leftover], dry_run: bool = False) -> list[str]:
    """One line per killed run: 'removed 2 leftovers of a killed run (pid N): A, B'."""
    lines = []
    by_pid: dict[int, list[Leftover]] = {}
    for leftover in done:
        by_pid.setdefault(leftover.pid, []).append(leftover)
    for pid, items in by_pid.items():
        removed = [str(x.path) for x in items if x.restore_to is None]
        restored = [x for x in items if x.restore_to is not None]
        if removed:
            verb = "would remove" if dry_run else "removed"
            noun = "leftover" if len(removed) == 1 else "leftovers"
            lines.append(f"{verb} {len(removed)} {noun} of a killed run (pid {pid}): {', '.join(removed)}")
        for x in restored:
            verb = "would put back" if dry_run else "put back"
            lines.append(f"{verb} {x.restore_to} from {x.path} (its publish was killed, pid {pid})")
    return lines


def sweep_and_report(out: Path | None = None) -> list[Leftover]:
    """What every run does first: remove dead runs' scratch and staging beside OUT, say so on stderr."""
    from ovtool import console

    beside = [Path(os.path.abspath(out)).parent.resolve()] if out is not None else []  # OUT's own name kept
    done = sweep_everywhere(beside)
    for line in describe(done):
        console.info(line)
    return done
