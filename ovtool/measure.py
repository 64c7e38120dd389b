"""Wall time and peak resident memory of a step, sampled in a background thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


def current_rss_bytes(with_children: bool = True) -> int:
    """RSS of this process (plus its children: scanning them walks /proc, so samplers skip it)."""
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
