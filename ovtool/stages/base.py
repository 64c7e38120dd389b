"""The stage contract: a typed object per stage, registered by name in `ovtool.stages.registry`.

A stage receives its own section (already validated, `@dataset/...` paths resolved) and a StageContext
whose `input` the runner wired. It never reads other sections, argv or the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ovtool.context import StageContext
from ovtool.results import StageResult

S = TypeVar("S", bound=BaseModel)


def _no_preflight(section: Any, ctx: StageContext) -> None:
    """Stages without cheap checks of their own."""


@dataclass(frozen=True)
class Stage(Generic[S]):
    """One stage: what it reads, what it needs, its cheap checks and its work.

    - `section_type`: the pydantic model of its recipe section (defaults when the recipe has none and
      `optional_section` is true: `ovtool convert -m X` needs no `convert:`).
    - `needs_model`: reads a model (the dataset stage does not).
    - `needs_output`: can only run with an OUT folder.
    - `produces_model`: its output is a model the next stage reads (generate's is not).
    - `preflight(section, ctx)`: cheap checks for --dry-run; ctx.input.model may be `Pending`.
    - `run(section, ctx) -> StageResult`: the work; ctx.input.model is a real path or hub id.
    """

    name: str
    section_type: type[S]
    run: Callable[[S, StageContext], StageResult]
    preflight: Callable[[S, StageContext], None] = _no_preflight
    needs_model: bool = True
    needs_output: bool = True
    produces_model: bool = True
    optional_section: bool = False

    def section_of(self, recipe: BaseModel) -> S:
        """This stage's section of `recipe`, or its defaults where the section is optional."""
        section = getattr(recipe, self.name, None)
        if section is None:
            if not self.optional_section:
                raise KeyError(f"the recipe has no `{self.name}:` section")
            section = self.section_type()
        return section
