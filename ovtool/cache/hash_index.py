"""Cheap content hashes: a small sqlite index (abs path, size, mtime_ns, inode) → sha256 beside the cache.

Why: a cache key needs the content hash of a stage's inputs, and re-reading a multi-GB model folder
on every run would cost more than some stages. A file whose size, mtime and inode are what they
were when it was hashed is taken as unchanged and not read again.

Stale by design (as in git, make, rsync): a file rewritten in place to the same size with its mtime
put back (`touch -d`, `os.utime`, some copy tools) keeps its old hash. To keep the usual case safe,
a file modified in the last `RACY_WINDOW_S` seconds is hashed but not recorded: a write landing
in the same timestamp tick after hashing cannot go unseen. A file that changed while it was read is
not recorded either. Safe across processes: sqlite (WAL, busy timeout); any index failure falls back
to reading the file — the index only saves time, it never decides a result on its own.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ovtool.cache.files import folder_digest, folder_files, sha256_file

DB_NAME = "hash-index.sqlite"
RACY_WINDOW_S = 2.0
TIMEOUT_S = 30.0
_SCHEMA = "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, " \
          "sha256 TEXT, hashed_at REAL)"  # fmt: skip


@dataclass
class _Session:
    """One open connection (None: index unusable, hash without it) and the rows to write at the end."""

    conn: sqlite3.Connection | None
    pending: list[tuple[str, int, int, int, str, float]] = field(default_factory=list)


class HashIndex:
    """`path_hash(p)`: a file's sha256, or a folder's (sorted relative paths + file hashes).

    The folder hash equals `ovtool.artifacts.sha256_path`. `reads` counts the files this instance
    actually read (the rest came from the index).
    """

    def __init__(self, root: Path) -> None:
        self.db = Path(root).absolute() / DB_NAME
        self.reads = 0

    def file_hash(self, path: Path) -> str:
        with self._session() as session:
            return self._hash(session, Path(path))

    def path_hash(self, path: Path) -> str:
        path = Path(path)
        if not path.is_dir():
            return self.file_hash(path)  # a missing path raises FileNotFoundError here
        with self._session() as session:
            return folder_digest((f.relative_to(path).as_posix(), self._hash(session, f)) for f in folder_files(path))

    def forget_missing(self) -> int:
        """Drop the rows of files that no longer exist (the index otherwise only grows); how many."""
        with self._session() as session:
            if session.conn is None:
                return 0
            gone = [(p,) for (p,) in session.conn.execute("SELECT path FROM files") if not os.path.exists(p)]
            with session.conn:
                session.conn.executemany("DELETE FROM files WHERE path = ?", gone)
            return len(gone)

    def clear(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.db}{suffix}")

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                total += os.stat(f"{self.db}{suffix}").st_size
        return total

    # --- internals ------------------------------------------------------------------------------

    def _hash(self, session: _Session, path: Path) -> str:
        name = os.path.abspath(path)
        before = os.stat(name)
        stamp = (before.st_size, before.st_mtime_ns, before.st_ino)
        if session.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                row = session.conn.execute(
                    "SELECT size, mtime_ns, inode, sha256 FROM files WHERE path = ?", (name,)
                ).fetchone()
                if row is not None and tuple(row[:3]) == stamp:
                    return str(row[3])
        sha = sha256_file(Path(name))
        self.reads += 1
        after = os.stat(name)
        now = time.time()
        settled = now - after.st_mtime > RACY_WINDOW_S
        if (after.st_size, after.st_mtime_ns, after.st_ino) == stamp and settled:
            session.pending.append((name, *stamp, sha, now))
        return sha

    @contextlib.contextmanager
    def _session(self) -> Iterator[_Session]:
        session = _Session(self._connect())
        try:
            yield session
            if session.conn is not None and session.pending:
                with contextlib.suppress(sqlite3.Error), session.conn:
                    session.conn.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", session.pending)
        finally:
            if session.conn is not None:
                session.conn.close()

    def _connect(self) -> sqlite3.Connection | None:
        """A connection with the table in place; a damaged index file is replaced once; else None."""
        for attempt in range(2):
            conn = None
            try:
                self.db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                conn = sqlite3.connect(self.db, timeout=TIMEOUT_S)
                with contextlib.suppress(sqlite3.OperationalError):
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                return conn
            except sqlite3.DatabaseError as exc:
                if conn is not None:
                    conn.close()
                if attempt == 0 and ("not a database" in str(exc) or "malformed" in str(exc)):
                    self.clear()
                    continue
                return None
            except OSError:
                return None
        return None
