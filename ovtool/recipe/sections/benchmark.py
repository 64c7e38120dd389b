"""`benchmark:` — the benchmark stage's recipe section."""

from __future__ import annotations

from ovtool.recipe.sections.base import StageSection


class BenchmarkSection(StageSection):
    """Fields are added with the stage itself."""
