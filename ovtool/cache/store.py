"""The content-addressed stage cache: one folder per key, verified on every read, published by rename.

Layout under the root (`cache_root()`):

    entries/<key[:2]>/<key>/files/...        the stage's output folder, as it was stored
                           /manifest.json    relative path → size, sha256 (and the payload's)
                           /payload.bin      opaque bytes from the runner (a pickled StageResult)
                           /meta.json        created_at, stage, ovtool version, size... (+ the caller's)
    tmp/ovtool-store-*, tmp/ovtool-trash-*   owner-marked scratch (scratch.sweep_dead removes a killed one)
    locks/<key>.lock                         flock per key
    hash-index.sqlite                        HashIndex (hash_index.py)

Why this shape: an entry is built completely in tmp/ and renamed into entries/ (one atomic step on one
filesystem), so a reader never sees a half-made entry through the normal path; everything else that can
go wrong (a SIGKILL'd copy on a filesystem without ordered writes, a disk error, a user editing a
hard-linked file in a run folder) is caught because `lookup` re-hashes every file against the manifest
and removes an entry that does not match. A corrupt entry is recomputed, never used.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool import __version__, scratch
from ovtool.cache import files as fs

FORMAT = 1
ENTRIES, TMP, LOCKS = "entries", "tmp", "locks"
FILES, MANIFEST, PAYLOAD, META = "files", "manifest.json", "payload.bin", "meta.json"
STORE_PREFIX, TRASH_PREFIX = "ovtool-store-", "ovtool-trash-"
KEY_RE = re.compile(r"^[0-9A-Za-z_-]{8,128}$")


def cache_root() -> Path:
    """$OVTOOL_CACHE, else $XDG_CACHE_HOME/ovtool, else ~/.cache/ovtool (absolute)."""
    env = os.environ.get("OVTOOL_CACHE")
    if env:
        return Path(env).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"  # XDG: relative values ignored
    return base / "ovtool"


@dataclass(frozen=True)
class CacheEntry:
    """A verified entry (from `lookup`/`store`) or a listed one (from `entries`, not verified)."""

    key: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def files_dir(self) -> Path:
        """The stored folder; `StageCache.materialize` puts its files into a run folder."""
        return self.path / FILES

    def payload(self) -> bytes:
        return (self.path / PAYLOAD).read_bytes()

    @property
    def stage(self) -> str:
        return str(self.meta.get("stage", "?"))

    @property
    def created_at(self) -> float:
        return float(self.meta.get("created_at", 0.0))

    @property
    def last_used(self) -> float:
        """When a run last stored or hit this entry (the entry folder's mtime, touched on every hit)."""
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    @property
    def size_bytes(self) -> int:
        return fs.tree_bytes(self.path)


def check_key(key: str) -> str:
    """Keys become folder names: only a safe, bounded alphabet (a sha256 hex digest is the norm)."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise ValueError(f"invalid cache key {key!r}: expected 8-128 characters of [0-9A-Za-z_-]")
    return key


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not an object")
    return data


def _verify(path: Path) -> dict[str, Any] | None:
    """The entry's meta when every stored file matches the manifest; None when anything does not."""
    try:
        manifest = _read_json(path / MANIFEST)
        if manifest.get("format") != FORMAT:
            return None
        listed: dict[str, dict[str, Any]] = manifest["files"]
        files_dir = path / FILES
        on_disk = {p.relative_to(files_dir).as_posix(): p for p in fs.folder_files(files_dir)}
        if set(on_disk) != set(listed):
            return None
        checks = [(on_disk[rel], want) for rel, want in listed.items()]
        checks.append((path / PAYLOAD, manifest["payload"]))
        for file, want in checks:
            if file.is_symlink() or file.stat().st_size != int(want["size"]):
                return None  # size first: a truncated file is caught without reading it
            if fs.sha256_file(file) != want["sha256"]:
                return None
        return _read_json(path / META)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


class StageCache:
    """The store: lookup (verified), store (atomic), materialize (hard links), lock, prune, clear."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root if root is not None else cache_root()).absolute()
        self.sweep()

    # --- layout -------------------------------------------------------------------------------

    def _entry_path(self, key: str) -> Path:
        return self.root / ENTRIES / key[:2] / check_key(key)

    def _dir(self, name: str) -> Path:
        folder = self.root / name
        if not folder.is_dir():
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # stage outputs may be private data
            folder.mkdir(mode=0o700, exist_ok=True)
        return folder

    def sweep(self) -> list[scratch.Leftover]:
        """Remove the temp folders of stores/removals whose process was killed."""
        tmp = self.root / TMP
        return scratch.sweep_dead([tmp], (STORE_PREFIX, TRASH_PREFIX)) if tmp.is_dir() else []

    # --- read -----------------------------------------------------------------------------------

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry for `key` if every file matches its manifest; a corrupt one is removed (None)."""
        path = self._entry_path(key)
        if not path.is_dir():
            return None
        meta = _verify(path)
        if meta is None:
            from ovtool import console

            console.warn(f"cache entry {key[:12]} is corrupt or half-written: removed, the stage runs again")
            self._remove(path)
            return None
        _touch(path)
        return CacheEntry(key, path, meta)

    def materialize(self, entry: CacheEntry, dest: Path) -> None:
        """Put the entry's files into `dest`: hard links (same filesystem) or copies, never symlinks.

        A run folder holding hard links stays self-contained and movable; it shares the bytes with the
        cache. Files are never to be modified in place there (a later `lookup` would find the entry
        changed and drop it); replace them instead (write a new file, rename over).
        """
        src_root = entry.files_dir
        dest.mkdir(parents=True, exist_ok=True)
        for src in fs.folder_files(src_root):
            dst = dest / src.relative_to(src_root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            fs.link_or_copy(src, dst)

    # --- write ----------------------------------------------------------------------------------

    def store(self, key: str, folder: Path | None, payload: bytes, meta: dict[str, Any],
              *, link: bool = False) -> CacheEntry:  # fmt: skip
        """Store `folder` (None: no files) + `payload` under `key`; the first complete entry wins.

        The entry is built in an owner-marked temp folder inside the cache, then renamed into place.
        If another run stored the same key meanwhile, its (verified) entry is kept and returned.
        `link=True` hard-links the files instead of copying them (saves the disk space of a second
        copy; then the source files must not be modified in place afterwards).
        """
        final = self._entry_path(key)
        owned = scratch.owned_dir(STORE_PREFIX, self._dir(TMP))
        try:
            built = owned / "entry"
            listed = self._fill(built / FILES, folder, link)
            (built / PAYLOAD).write_bytes(payload)
            manifest = {"format": FORMAT, "files": listed,
                        "payload": {"size": len(payload), "sha256": _sha256_bytes(payload)}}  # fmt: skip
            full_meta = {**meta, "key": key, "created_at": time.time(), "ovtool_version": __version__,
                         "size_bytes": sum(int(v["size"]) for v in listed.values()) + len(payload),
                         "file_count": len(listed)}  # fmt: skip
            (built / META).write_text(json.dumps(full_meta, indent=1, sort_keys=True, default=str))
            (built / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            final.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(3):
                try:
                    os.rename(built, final)
                except OSError as exc:
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    existing = self.lookup(key)  # another run won the race (a corrupt one is removed)
                    if existing is not None:
                        return existing
                    continue
                _touch(final)
                return CacheEntry(key, final, full_meta)
            raise OSError(errno.EEXIST, f"cache entry {key[:12]} kept reappearing corrupt", str(final))
        finally:
            scratch.remove(owned)

    @staticmethod
    def _fill(files_dir: Path, folder: Path | None, link: bool) -> dict[str, dict[str, Any]]:
        """Copy (or link) `folder`'s files into `files_dir`; the manifest's `files` part."""
        files_dir.mkdir(parents=True)
        listed: dict[str, dict[str, Any]] = {}
        if folder is None:
            return listed
        if not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "the cache stores folders", str(folder))
        for src in fs.folder_files(folder):
            rel = src.relative_to(folder).as_posix()
            dst = files_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if link and fs.link_or_copy(src, dst):
                sha = fs.sha256_file(dst)
            else:
                sha = fs.copy_hashing(src, dst)
            listed[rel] = {"size": dst.stat().st_size, "sha256": sha}
        return listed

    # --- locks ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str, *, wait: bool = True) -> Iterator[None]:
        """Exclusive per key across processes (flock); a second run waits and says so on stderr.

        `wait=False` raises BlockingIOError instead of waiting. The lock file may be unlinked by
        prune/clear while someone waits on it: the inode check below then takes the new file.
        """
        path = self._dir(LOCKS) / f"{check_key(key)}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not wait:
                        raise
                    from ovtool import console

                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                    console.info(f"waiting for another ovtool run (pid {holder}) using cache entry {key[:12]}")
                    fcntl.flock(fd, fcntl.LOCK_EX)
                if _same_file(fd, path):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # it was unlinked while we waited: lock the current file instead
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    # --- listing and removal --------------------------------------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every entry folder (not verified: `lookup` does that), oldest use first."""
        found = []
        for path in sorted((self.root / ENTRIES).glob("*/*")):
            if not path.is_dir() or not KEY_RE.match(path.name):
                continue
            try:
                meta = _read_json(path / META)
            except (OSError, ValueError):
                meta = {}
            found.append(CacheEntry(path.name, path, meta))
        return sorted(found, key=lambda e: e.last_used)

    def size_bytes(self) -> int:
        """Bytes held by the entries (each inode once; hard links into run folders included)."""
        entries = self.root / ENTRIES
        return fs.tree_bytes(entries) if entries.is_dir() else 0

    def prune(self, older_than_s: float | None, max_bytes: int | None, *, dry_run: bool = False) -> list[CacheEntry]:
        """Remove entries unused for `older_than_s`, then least recently used ones until ≤ `max_bytes`.

        An entry locked by a running ovtool is kept (it is being read or written right now).
        """
        now = time.time()
        removed: list[CacheEntry] = []
        kept: list[tuple[CacheEntry, int]] = []
        for entry in self.entries():  # oldest use first
            if older_than_s is not None and now - entry.last_used > older_than_s and self._drop(entry, dry_run):
                removed.append(entry)
            else:
                kept.append((entry, entry.size_bytes))
        if max_bytes is not None:
            total = sum(size for _, size in kept)
            for entry, size in kept:
                if total <= max_bytes:
                    break
                if self._drop(entry, dry_run):
                    removed.append(entry)
                    total -= size
        return removed

    def clear(self, *, dry_run: bool = False) -> int:
        """Remove every entry not in use; the number removed."""
        return sum(self._drop(entry, dry_run) for entry in self.entries())

    def _drop(self, entry: CacheEntry, dry_run: bool) -> bool:
        """Remove `entry` under its lock (not waiting: an entry in use is kept). True: removed."""
        try:
            with self.lock(entry.key, wait=False):
                if not dry_run:
                    self._remove(entry.path)
                    with contextlib.suppress(OSError):
                        (self.root / LOCKS / f"{entry.key}.lock").unlink()  # held: safe (see lock())
        except BlockingIOError:
            return False
        return True

    def _remove(self, path: Path) -> None:
        """Take the entry out of entries/ in one rename, then delete it as sweepable scratch."""
        owned = scratch.owned_dir(TRASH_PREFIX, self._dir(TMP))
        try:
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, owned / "entry")
        finally:
            scratch.remove(owned)


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
