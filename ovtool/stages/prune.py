"""The prune stage (not built yet: it says so and exits 1)."""

from __future__ import annotations

from ovtool.recipe.schema import Recipe
from ovtool.stages.context import StageContext, StageResult
from ovtool.stages.pending import not_implemented

NEEDS_MODEL = True
NEEDS_OUTPUT = True


def preflight(recipe: Recipe, ctx: StageContext) -> None:
    raise not_implemented("prune")


def run(recipe: Recipe, ctx: StageContext) -> StageResult:
    raise not_implemented("prune")
