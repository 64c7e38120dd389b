"""What a stage is given: its typed input (StageInput) and where it works (StageContext).

A stage never sees the whole recipe. The runner builds a StageInput for it: the model it reads (a path
or hub id, or `Pending` — the output of an earlier stage of this run, not produced yet), this run's
dataset output for `@dataset/...` paths, and the few values of other sections it needs (how to convert
a non-IR input, the gates its figures feed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ovtool import console
from ovtool.measure import PeakMemorySampler, StepMeasurement, Stopwatch

if TYPE_CHECKING:
    from ovtool.recipe.sections.convert import ConvertSection
    from ovtool.recipe.sections.gates import GatesSection


@dataclass(frozen=True)
class Pending:
    """The output of stage `stage` of this run, not produced yet (seen by preflight and --dry-run)."""

    stage: str

    def __str__(self) -> str:
        return f"the output of {self.stage}"


# A model a stage reads: a local path or hub id, or the output of an earlier stage.
ModelRef = str | Pending


@dataclass(frozen=True)
class DatasetOutput:
    """Where this run's dataset stage writes its dataset; `pending` until that stage has run."""

    path: Path
    pending: bool = False


@dataclass(frozen=True)
class StageInput:
    """Everything a stage reads besides its own section, wired by the runner."""

    model: ModelRef | None = None
    source_model: str | None = None  # the recipe's `model:` (benchmark's `{model}` placeholder)
    dataset: DatasetOutput | None = None  # this run's dataset output, for `@dataset/...` paths
    convert: ConvertSection | None = None  # how a non-IR input is converted (the recipe's `convert:`)
    gates: GatesSection | None = None  # the gates this stage's figures feed
    output: Path | None = None  # OUT, when the run publishes one

    @property
    def model_path(self) -> str:
        """The model as a path/hub id; only valid once it exists (in `run`, never `Pending`)."""
        if self.model is None or isinstance(self.model, Pending):
            raise RuntimeError(f"stage input not available yet: {self.model}")
        return self.model


@dataclass
class StageContext:
    """Where a stage works and what it reads; `step()` times and measures each piece of work."""

    stage: str
    work_dir: Path
    input: StageInput = field(default_factory=StageInput)
    seed: int = 0
    steps: list[StepMeasurement] = field(default_factory=list)

    @property
    def model_dir(self) -> Path:
        return self.work_dir / "model"

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[StepMeasurement]:
        """Record wall time and peak RSS of a named step; progress line on stderr."""
        measurement = StepMeasurement(name=name)
        console.info(f"▸ {self.stage}: {name} …")
        with PeakMemorySampler() as memory, Stopwatch() as watch:
            yield measurement
        measurement.seconds = watch.seconds
        measurement.peak_rss_bytes = memory.peak
        self.steps.append(measurement)
        console.info(
            f"✓ {self.stage}: {name} ({watch.seconds:.1f} s, peak {memory.peak / 2**20:.0f} MiB)"
        )
