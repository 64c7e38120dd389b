"""Summaries of measured samples: percentiles with numpy (linear interpolation, as benchmark_app)."""

from __future__ import annotations

from collections.abc import Sequence

PERCENTILES = (50, 90, 99)


def summarize_ms(samples: Sequence[float]) -> dict[str, float]:
    """min/mean/p50/p90/p99/max of samples in milliseconds (rounded to µs)."""
    import numpy as np

    if not samples:
        return {}
    values = np.asarray(samples, dtype=np.float64)
    summary = {"min": float(values.min()), "mean": float(values.mean())}
    for p, value in zip(PERCENTILES, np.percentile(values, PERCENTILES), strict=True):
        summary[f"p{p}"] = float(value)
    summary["max"] = float(values.max())
    return {key: round(value, 3) for key, value in summary.items()}


def ratio(value: float | None, base: float | None) -> float | None:
    """value / base, or None when either is missing or the base is zero."""
    if value is None or base in (None, 0):
        return None
    return round(value / base, 4)
