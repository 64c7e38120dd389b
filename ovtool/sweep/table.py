"""The sweep's trial table: one row per trial (axis values, status, objectives), read from run.json.

Rows are what sweep.json stores and what report.md/html show; they are rebuilt from the trials'
own run.json files, so a resumed sweep shows the same numbers the trials published.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ovtool.recipe.sections.sweep import Objective

# The objective that means "this trial's own IR" (convert's `ir_size_mb` is the source before compression:
# `convert.ir_size_mb` still names that one).
TRIAL_IR_SIZE = "ir_size_mb"
IR_SIZE_SOURCE = "openvino_model.xml + .bin of trials/<id>/model"
FINISHED = ("ok", "gate_failed")  # published a run.json: not redone on resume


@dataclass
class TrialRow:
    """One trial as sweep.json and the report show it."""

    id: str
    values: dict[str, Any]
    status: str  # ok | gate_failed | failed | invalid | pending
    reused: bool = False  # finished by an earlier run of this sweep, not redone
    exit_code: int | None = None
    error: str | None = None
    objectives: dict[str, float | None] = field(default_factory=dict)
    size_mb: float | None = None  # the trial's own IR (MiB), see trial_ir_size_mb
    gates: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def feasible(self) -> bool:
        """Finished with every gate of the recipe met (the constraints)."""
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def metric_value(run_json: dict[str, Any], name: str) -> float | None:
    """A metric of run.json: `stage.metric`, or `metric` from the last stage that reports it.

    Stage `metrics` are searched first, then `gate_values` (what gates read, e.g. a perplexity
    increase in percent).
    """
    all_stages = run_json.get("stages", [])
    head, _, rest = name.partition(".")
    qualified = bool(rest) and any(s.get("stage") == head for s in all_stages)  # benchmark names hold dots
    metric = rest if qualified else name
    stages = [s for s in all_stages if not qualified or s.get("stage") == head]
    for where in ("metrics", "gate_values"):
        for stage in reversed(stages):
            found = (stage.get(where) or {}).get(metric)
            if isinstance(found, dict):
                found = found.get("value")
            if isinstance(found, (int, float)) and not isinstance(found, bool):
                return float(found)
    return None


def trial_ir_size_mb(trial_dir: Path) -> float | None:
    """The size (MiB, 2 decimals like the stages' own size metrics) of the IR the trial published.

    Measured on `trial_dir/model` (the last model stage's output): every stage's size metric counts
    openvino_model.xml + .bin, and the run.json metric names differ by stage (convert: ir_size_mb of
    the source, quantize: size_compressed_mb), so the files are the one answer that is always the
    trial's. A model saved under other names counts each .xml with its .bin.
    """
    model = trial_dir / "model"
    xmls = [model / "openvino_model.xml"] if (model / "openvino_model.xml").is_file() else sorted(model.glob("*.xml"))
    if not xmls:
        return None
    try:
        size = sum(x.stat().st_size + (b.stat().st_size if (b := x.with_suffix(".bin")).is_file() else 0)
                   for x in xmls)  # fmt: skip
    except OSError:
        return None
    return round(size / 2**20, 2)


def finished_row(tid: str, values: dict[str, Any], run_json: dict[str, Any], objectives: list[Objective],
                 *, trial_dir: Path, reused: bool, exit_code: int | None) -> TrialRow:  # fmt: skip
    """The row of a trial that published its run.json (into `trial_dir`).

    The objective `ir_size_mb` (unqualified) is the trial's own IR size, not convert's size of the
    source IR that every trial of a quantization sweep shares.
    """
    status = "ok" if run_json.get("status") == "ok" else "gate_failed"
    size = trial_ir_size_mb(trial_dir)
    found = {o.metric: size if o.metric == TRIAL_IR_SIZE else metric_value(run_json, o.metric) for o in objectives}
    return TrialRow(
        id=tid, values=values, status=status, reused=reused, exit_code=exit_code, objectives=found,
        size_mb=size, gates=list(run_json.get("gates") or []), duration_s=run_json.get("duration_s"),
    )  # fmt: skip


def gate_miss(row: TrialRow) -> float:
    """How far the trial's gates missed, summed as fractions of each threshold (0: all met)."""
    miss = 0.0
    for gate in row.gates:
        if gate.get("passed") is not False:
            continue
        threshold, value = gate.get("threshold"), gate.get("value")
        if not isinstance(threshold, (int, float)) or not isinstance(value, (int, float)):
            miss += 1.0  # not measured: as far off as it gets
            continue
        gap = (threshold - value) if str(gate.get("gate", "")).startswith("min_") else (value - threshold)
        miss += max(gap, 0.0) / (abs(threshold) or 1.0)
    return miss


def missed_gates(row: TrialRow) -> str:
    """`gate value vs threshold, …` of the gates the trial did not meet ('' when none)."""
    return ", ".join(f"{g.get('gate')} {_num(g.get('value'))} vs {_num(g.get('threshold'))}"
                     for g in row.gates if g.get("passed") is False)  # fmt: skip


def describe_miss(row: TrialRow) -> str:
    """`<id> (gate value vs threshold, …)` for the exit-3 message."""
    parts = missed_gates(row)
    return f"{row.id} ({parts})" if parts else row.id


def _num(value: Any) -> str:
    """6 significant digits: a threshold such as 0.99999 must not print as 1."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
