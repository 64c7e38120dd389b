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
