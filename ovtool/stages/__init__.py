"""Stage functions: `run(recipe, ctx) -> StageResult`, one module per stage, imported on demand.

Each stage module provides:
- `NEEDS_MODEL: bool` — whether it reads a model (the dataset stage does not);
- `NEEDS_OUTPUT: bool` — whether it can only run with an OUT folder;
- `preflight(recipe, ctx) -> None` — cheap checks for --dry-run (inputs exist, combinations);
- `run(recipe, ctx) -> StageResult` — the work.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ovtool.recipe.schema import STAGE_ORDER


def load_stage(name: str) -> ModuleType:
    """The stage module for `name` (explicit list, no package walking)."""
    if name not in STAGE_ORDER:
        raise KeyError(name)
    return importlib.import_module(f"ovtool.stages.{name}")
