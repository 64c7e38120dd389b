"""`distill:` — the distill stage's recipe section."""

from __future__ import annotations

from ovtool.recipe.sections.base import StageSection


class DistillSection(StageSection):
    """Fields are added with the stage itself."""
