"""matplotlib for the reports: the headless Agg backend, and a figure turned into PNG bytes for report.html."""

from __future__ import annotations

import io
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display on CI machines); imported only when plotting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(figure: Any, dpi: int = 90) -> bytes:
    """The figure as PNG bytes (tight layout); the figure is closed so long runs do not pile them up."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()


def clipped_hist(ax: Any, values: list[float], xlabel: str, *, bins: int = 40, percentile: float = 99.0) -> str:
    """A histogram whose x axis ends at the `percentile`-th value, so a few very long items do not squeeze
    everything else into the first bars; the axis says so. Returns that note ('' when nothing was clipped).

    Clipping happens only where it helps: the maximum lies well beyond the percentile (over 1.5x).
    """
    import numpy as np

    data = np.asarray(values, dtype=float)
    top = float(np.percentile(data, percentile)) if data.size else 0.0
    if data.size < 20 or top <= 0 or data.max() <= 1.5 * top:
        ax.hist(data, bins=bins)
        ax.set_xlabel(xlabel)
        return ""
    beyond = int((data > top).sum())
    ax.hist(data[data <= top], bins=bins)
    ax.set_xlim(left=min(0.0, float(data.min())), right=top)
    note = (f"x axis cut at the {percentile:g}th percentile ({top:.0f}): {beyond} of {data.size} beyond it, "
            f"up to {data.max():.0f}")
    ax.set_xlabel(f"{xlabel}\n({note})")
    return note
