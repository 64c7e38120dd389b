"""The Pareto front of objective vectors, and the winner rule: pure functions over numbers and goals.

A missing value (None, NaN) counts as worse than any measured value on that objective, so a trial
that did not report an objective is never preferred on it, yet can still be on the front through
the others. Identical vectors do not dominate each other: duplicates are all on the front.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Goal = Literal["max", "min"]
Value = float | None


def _score(value: Value, goal: Goal) -> float:
    """The value turned so that larger is always better; missing → -inf (worst)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -math.inf
    return float(value) if goal == "max" else -float(value)


def dominates(a: Sequence[Value], b: Sequence[Value], goals: Sequence[Goal]) -> bool:
    """True when `a` is at least as good as `b` on every objective and strictly better on one."""
    if not (len(a) == len(b) == len(goals)):
        raise ValueError("objective vectors and goals differ in length")
    better = False
    for x, y, goal in zip(a, b, goals, strict=True):
        sx, sy = _score(x, goal), _score(y, goal)
        if sx < sy:
            return False
        better = better or sx > sy
    return better


def pareto_front(points: Sequence[Sequence[Value]], goals: Sequence[Goal]) -> list[int]:
    """Indices (in input order) of the points no other point dominates. O(n²): sweeps are small."""
    return [
        i for i, p in enumerate(points)
        if not any(dominates(q, p, goals) for j, q in enumerate(points) if j != i)
    ]  # fmt: skip


def choose(
    points: Sequence[Sequence[Value]],
    goals: Sequence[Goal],
    candidates: Sequence[int],
    by: int = 0,
    tolerance_pct: float = 0.0,
) -> int | None:
    """The winner among `candidates` (indices into points): best on objective `by`, ties decided by the rest.

    Candidates within `tolerance_pct` percent of the best `by` value tie on it; among those the
    other objectives decide in their listed order, then the input order (the first trial wins).
    None when there is no candidate.
    """
    if not candidates:
        return None
    best = max(_score(points[i][by], goals[by]) for i in candidates)
    slack = abs(best) * tolerance_pct / 100 if math.isfinite(best) else 0.0
    tied = [i for i in candidates if _score(points[i][by], goals[by]) >= best - slack]
    order = [k for k in range(len(goals)) if k != by]
    return min(tied, key=lambda i: ([-_score(points[i][k], goals[k]) for k in order], i))
