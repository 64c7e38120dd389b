"""The explicit list of stages, in the order `ovtool run` runs them (no package walking).

A stage module is imported when its stage is asked for: a one-prompt `ovtool generate` imports
the generate stage only, not all seven (~20 ms of every call).
"""

from __future__ import annotations

import importlib
from typing import Any

from ovtool.stages.base import Stage

# run order; each name is its module ovtool/stages/<name>.py, which defines STAGE
ORDER = ("dataset", "convert", "prune", "distill", "quantize", "benchmark", "generate")


def all_stages() -> dict[str, Stage[Any]]:
    """Name → Stage, in run order. Stage modules import heavy libraries only inside functions."""
    return {name: get_stage(name) for name in ORDER}


def get_stage(name: str) -> Stage[Any]:
    if name not in ORDER:
        raise KeyError(f"no stage named {name!r}; stages: {', '.join(ORDER)}")
    stage: Stage[Any] = importlib.import_module(f"ovtool.stages.{name}").STAGE
    return stage
