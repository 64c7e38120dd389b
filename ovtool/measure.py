"""Wall time and peak resident memory of a step, sampled in a background thread."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass


def current_rss_bytes(with_children: bool = True) -> int:
    """RSS of this process (plus its children: samplers skip them).

    On Linux read from /proc (statm, and each thread's `children` list): psutil's child scan reads the
    stat file of every process on the machine, ~5-25 ms a call on a busy host and four calls per
    measured step, and importing psutil is ~7 ms of every `ovtool generate` (issue #14). Elsewhere, or
    on a kernel without the `children` files, psutil does it.
    """
    try:
        return _proc_rss("self", with_children)
    except (OSError, ValueError):
        return _psutil_rss(with_children)


_PAGE = 0


def _statm_rss(pid: str) -> int:
    """Resident bytes of one process (the second field of /proc/PID/statm, in pages), as psutil reads it."""
    global _PAGE
    if not _PAGE:
        _PAGE = os.sysconf("SC_PAGE_SIZE")
    with open(f"/proc/{pid}/statm", "rb") as file:
        return int(file.read().split()[1]) * _PAGE


def _proc_rss(pid: str, with_children: bool) -> int:
    total = _statm_rss(pid)
    if not with_children:
        return total
    seen: set[str] = set()
    pending = _children(pid)  # raises when the kernel has no `children` files: psutil then
    while pending:
        child = pending.pop()
        if child in seen:
            continue
        seen.add(child)
        try:
            total += _statm_rss(child)
            pending += _children(child)
        except (OSError, ValueError):  # it exited while being read
            continue
    return total


def _children(pid: str) -> list[str]:
    """Child pids of every thread of `pid` (a child belongs to the thread that started it)."""
    out: list[str] = []
    tasks = f"/proc/{pid}/task"
    for tid in os.listdir(tasks):
        try:
            with open(f"{tasks}/{tid}/children", "rb") as file:
                out += file.read().decode().split()
        except OSError:
            if not os.path.exists(f"{tasks}/{tid}"):
                continue  # the thread ended
            raise
    return out


def _psutil_rss(with_children: bool) -> int:
    import psutil

    proc = psutil.Process()
    total = proc.memory_info().rss
    if not with_children:
        return total
    for child in proc.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


@dataclass
class StepMeasurement:
    """What a step cost: seconds and the peak RSS (bytes) seen while it ran."""

    name: str
    seconds: float = 0.0
    peak_rss_bytes: int = 0

    def as_dict(self) -> dict[str, float | str]:
        return {
            "name": self.name,
            "seconds": round(self.seconds, 3),
            "peak_rss_mb": round(self.peak_rss_bytes / 2**20, 1),
        }


class PeakMemorySampler:
    """Samples this process's RSS (plus children) every `interval` seconds until stopped."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():  # own RSS only: ~20 µs a sample, so measured work is not disturbed
            self.peak = max(self.peak, current_rss_bytes(with_children=False))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemorySampler:
        self.peak = current_rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_bytes())


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
