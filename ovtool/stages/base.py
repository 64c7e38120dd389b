"""The stage contract: a typed object per stage, registered by name in `ovtool.stages.registry`.

A stage receives its own section (already validated, `@dataset/...` paths resolved) and a StageContext
whose `input` the runner wired. It never reads other sections, argv or the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from ovtool.context import StageContext
from ovtool.results import StageResult

S = TypeVar("S", bound=BaseModel)

# How the stage cache treats a stage (ovtool/run_cache.py):
# - artifact: its output folder is what the work made (an IR, a dataset): reused on the same key;
# - measurement: its figures are the point of running it (timings): re-run unless `cache.measurements`;
# - none: nothing reusable (or nothing that may be kept: keys, ciphertext).
CacheKind = Literal["artifact", "measurement", "none"]


def _no_preflight(section: Any, ctx: StageContext) -> None:
    """Stages without cheap checks of their own."""


def _always(section: Any) -> bool:
    return True


def _never(section: Any) -> bool:
    return False


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

    What the stage cache needs to know (the runner decides hits and misses; the stage never sees the cache):
    - `cache`: see CacheKind; `cache_when(section)` narrows it (the dataset stage caches only the verbs
      that write a dataset).
    - `libraries`: the distributions whose versions change its output (part of the cache key).
    - `seeded`: the seed changes its output (convert's does not, so a new seed reuses the conversion).
    - `machine_dependent(section)`: the artifact depends on the CPU it was made on (accuracy control
      decides from inference it runs), so the CPU is part of the key.
    - `produce` + `measure`: a stage whose artifact is cached while its measurement runs on every run
      (quantize: the compressed IR, then quality and speed against the original). `produce(section, ctx)`
      writes into ctx.work_dir and returns a picklable value; `measure(section, ctx, value)` gives the
      StageResult. `run` must equal measure(produce()) — the path taken without the cache.
    """

    name: str
    section_type: type[S]
    run: Callable[[S, StageContext], StageResult]
    preflight: Callable[[S, StageContext], None] = _no_preflight
    needs_model: bool = True
    needs_output: bool = True
    produces_model: bool = True
    optional_section: bool = False
    cache: CacheKind = "none"
    cache_when: Callable[[S], bool] = _always
    libraries: tuple[str, ...] = ()
    seeded: bool = True
    machine_dependent: Callable[[S], bool] = _never
    produce: Callable[[S, StageContext], Any] | None = None
    measure: Callable[[S, StageContext, Any], StageResult] | None = None

    def __post_init__(self) -> None:
        if (self.produce is None) != (self.measure is None):
            raise TypeError(f"stage {self.name}: give both produce and measure, or neither")
        if self.produce is not None and self.cache != "artifact":
            raise TypeError(f"stage {self.name}: produce/measure split only makes sense for an artifact stage")

    def cache_kind(self, section: S) -> CacheKind:
        """How the cache treats this stage for `section` (`none` where cache_when says no)."""
        return self.cache if self.cache_when(section) else "none"

    def section_of(self, recipe: BaseModel) -> S:
        """This stage's section of `recipe`, or its defaults where the section is optional."""
        section = getattr(recipe, self.name, None)
        if section is None:
            if not self.optional_section:
                raise KeyError(f"the recipe has no `{self.name}:` section")
            section = self.section_type()
        return section
