"""`sweep:` — many trials of this recipe over axes of recipe keys; objectives, the winner rule, the executor.

The recipe's other sections are the base every trial starts from; each trial sets its axis values
(dotted recipe keys) and is validated as a whole recipe, so an invalid combination is found before
any work. Constraints are the recipe's own `gates:` (each trial's gate outcome).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ovtool.recipe.sections.base import Section

RESERVED_AXES = ("sweep", "output")  # a trial never sweeps the sweep itself, nor where it publishes


class Objective(Section):
    """One number to optimise, read from the trials' run.json metrics."""

    metric: str = Field(
        description="A metric of a stage's run.json `metrics` (e.g. tokens_per_s), or `stage.metric` "
        "(e.g. quantize.perplexity) when several stages report one of that name."
    )
    goal: Literal["max", "min"] = Field(description="max: larger is better; min: smaller is better.")


class ChooseSpec(Section):
    """How the winner is picked among the feasible (gates met) Pareto front."""

    by: str = Field(description="The objective (its `metric`) the winner is best on.")
    tolerance_pct: float = Field(
        default=0.0,
        ge=0,
        description="Trials within this many percent of the best `by` value tie; among them the next "
        "objectives (in listed order) decide.",
    )


class SweepSection(Section):
    """`ovtool sweep` / `ovtool run` of a recipe with this section: the trials, how they run, the winner."""

    axes: dict[str, list[Any]] = Field(
        min_length=1,
        description="Dotted recipe key → the values it takes, e.g. quantize.weights.group_size: [32, 64, 128].",
    )
    strategy: Literal["grid", "random"] = Field(
        default="grid", description="grid: every combination; random: `samples` distinct combinations."
    )
    samples: int | None = Field(default=None, gt=0, description="random: how many trials.")
    seed: int | None = Field(default=None, description="random: the seed (default: the recipe's seed).")
    objectives: list[Objective] = Field(min_length=1, description="What the Pareto front is over.")
    choose: ChooseSpec | None = Field(
        default=None, description="The winner rule; default: best on the first objective."
    )
    executor: Literal["local", "ray"] = Field(default="local", description="Where trials run.")
    jobs: int = Field(
        default=1, gt=0, description="local: trials at once (cores split between them by benchmark/generate threads)."
    )

    @field_validator("axes")
    @classmethod
    def _axes(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in axes.items():
            parts = key.split(".")
            if any(not part for part in parts):
                raise ValueError(f"axis {key!r}: a dotted recipe key, e.g. quantize.preset")
            if parts[0] in RESERVED_AXES:
                raise ValueError(f"axis {key!r}: {parts[0]} cannot be swept")
            if not values:
                raise ValueError(f"axis {key!r}: give at least one value")
            if len({repr(v) for v in values}) != len(values):
                raise ValueError(f"axis {key!r}: a value is listed twice")
        return axes

    @model_validator(mode="after")
    def _consistent(self) -> SweepSection:
        if self.strategy == "random" and self.samples is None:
            raise ValueError("strategy random needs samples: N")
        if self.strategy == "grid" and self.samples is not None:
            raise ValueError("samples is for strategy random (grid runs every combination)")
        names = [o.metric for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError("an objective is listed twice")
        if self.choose is not None and self.choose.by not in names:
            raise ValueError(f"choose.by {self.choose.by!r} is not an objective (one of {', '.join(names)})")
        return self
