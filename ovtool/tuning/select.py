"""The choice among measured candidates: pure, so it is tested with injected timings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# A candidate must beat the incumbent by this share to replace it: two runs of the same settings differ
# by a percent or two on a shared machine, and a non-default setting that does not clearly pay is noise.
MIN_GAIN = 0.03


@dataclass
class Row:
    """One candidate's settings, its time per unit (ms per token or per inference: lower is faster)."""

    settings: dict[str, Any]
    ms: float
    quality_ok: bool
    quality: str = ""  # what the guard saw ("same text", "cosine 0.9996")
    note: str = ""
    steady: bool = True  # faster than the incumbent in every paired sample (False: a win by the median only)
    extra: dict[str, float] = field(default_factory=dict)  # other figures (TTFT, FPS) for the table


def select(rows: Sequence[Row], min_gain: float = MIN_GAIN) -> Row | None:
    """The fastest row that passes the quality guard; rows[0] (the incumbent) unless clearly beaten.

    Clearly: by `min_gain` in the median and in every paired sample (`steady`) — on a loaded machine a
    median of a few pairs can move by more than `min_gain`, a win in every pair rarely does by chance.
    None when no row passed the guard (the caller keeps its reference settings).
    """
    incumbent = rows[0]
    ok = [r for r in rows if r.quality_ok and r.ms > 0]
    if not ok:
        return None
    if incumbent in ok:
        ok = [r for r in ok if r is incumbent or r.steady]
    best = min(ok, key=lambda r: r.ms)
    if incumbent in ok and best is not incumbent and best.ms > incumbent.ms * (1 - min_gain):
        return incumbent
    return best
