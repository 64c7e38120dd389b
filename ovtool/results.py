"""What a stage gives back: StageResult and the typed pieces it carries (Metric, Table, Plot).

The bottom layer: backends, training, stages and report all import these; this module imports nothing
of ovtool's. Results stay typed until `ovtool/report.py` serialises them once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    """A PNG figure embedded in report.html; `alt` says in words what it shows (default: its title)."""

    title: str
    png: bytes
    alt: str = ""


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
    # Where a dataset stage wrote its dataset (`@dataset/...` in later stages points here).
    dataset_dir: Path | None = None
