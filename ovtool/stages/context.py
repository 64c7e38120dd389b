"""What a stage gets (StageContext) and what it gives back (StageResult) — typed, no loose dicts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.measure import PeakMemorySampler, StepMeasurement, Stopwatch


@dataclass
class Metric:
    """A measured number and its unit; run.json stores it as {"value": …, "unit": …}."""

    value: float
    unit: str
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value, "unit": self.unit}
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class Table:
    """A table for report.md/report.html (and report.csv where a stage wants one)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Plot:
    """A PNG figure embedded in report.html."""

    title: str
    png: bytes


@dataclass
class StageResult:
    """Everything a stage produced. `gate_values` feeds the recipe's gates (see ovtool.gates)."""

    stage: str
    model_dir: Path | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    gate_values: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    summary: str = ""
    stdout_text: str | None = None
    # Checks the stage ran itself that failed (e.g. dataset validation errors): exit 3 after publishing,
    # like a failed gate, with these lines as the reason.
    check_failures: list[str] = field(default_factory=list)
    extra_files: list[str] = field(default_factory=list)


@dataclass
class StageContext:
    """Where a stage works and what it reads; `step()` times and measures each piece of work."""

    stage: str
    work_dir: Path
    input_model: str | None
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
