"""The explicit list of stages, in the order `ovtool run` runs them (no package walking)."""

from __future__ import annotations

from typing import Any

from ovtool.stages.base import Stage


def all_stages() -> dict[str, Stage[Any]]:
    """Name → Stage, in run order. Stage modules import heavy libraries only inside functions."""
    from ovtool.stages import benchmark, convert, dataset, distill, generate, prune, quantize

    ordered = (dataset.STAGE, convert.STAGE, prune.STAGE, distill.STAGE, quantize.STAGE, benchmark.STAGE,
               generate.STAGE)  # fmt: skip
    return {stage.name: stage for stage in ordered}


def get_stage(name: str) -> Stage[Any]:
    stages = all_stages()
    if name not in stages:
        raise KeyError(f"no stage named {name!r}; stages: {', '.join(stages)}")
    return stages[name]
