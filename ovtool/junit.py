"""JUnit XML from a run record: what GitHub Actions, GitLab and Jenkins show natively as test results.

One test case per stage (passed, or an error when the work failed there), per check a stage failed
(e.g. dataset validation) and per gate (a failure carries the measured value and the threshold).
Built from run.json's dict — the machine-readable truth — so it says nothing run.json does not.
Stdlib xml.etree only; the attributes are those of the JUnit schema CI tools read
(testsuites > testsuite{name,tests,failures,errors,skipped,time,timestamp} > testcase{classname,name,time}
> failure|error|skipped{message,type}).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ovtool.artifacts import write_atomic
from ovtool.errors import OvtoolError, UserError
from ovtool.gates import GATE_RULES

_FLIPPED = {">=": "<", "<=": ">"}


def check_path(junit: str, out: str | None) -> None:
    """Refuse a JUnit file inside OUT: it would be written into a folder ovtool publishes whole (exit 2)."""
    if out is None:
        return
    target, folder = Path(os.path.abspath(junit)), Path(os.path.abspath(out))
    if folder == target or folder in target.parents:
        raise UserError(f"--junit {junit}: inside OUT ({out}); write it beside OUT, e.g. {folder.parent / 'junit.xml'}")


def _case(suite: ET.Element, classname: str, name: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")


def _outcome(case: ET.Element, tag: str, message: str, kind: str, text: str = "") -> None:
    element = ET.SubElement(case, tag, message=message, type=kind)
    if text:
        element.text = text


def _stage_seconds(stage: dict[str, Any]) -> float:
    return float(sum(step.get("seconds") or 0.0 for step in stage.get("steps") or []))


def _error_text(error: BaseException) -> tuple[str, str]:
    """(message, type) of the exception that stopped the run."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", "Interrupted"
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else type(error).__name__
    kind = type(error).__name__
    return (first if isinstance(error, OvtoolError) else f"{kind}: {first}"), kind


def _gate_case(suite: ET.Element, classname: str, gate: dict[str, Any], error: BaseException | None) -> None:
    key, op = GATE_RULES[gate["gate"]]
    threshold, value = gate["threshold"], gate["value"]
    case = _case(suite, classname, f"{gate['gate']}: {key} {op} {threshold:g}")
    if error is not None:
        _outcome(case, "skipped", "not checked: the work failed before the gates", "NotChecked")
    elif value is None:
        message = f"{key} not measured by this run"
        if gate["passed"] is False:  # `ovtool run`: a gate no stage measured fails
            _outcome(case, "failure", message, "GateNotMeasured")
        else:
            _outcome(case, "skipped", message, "NotMeasured")
    elif gate["passed"] is False:
        where = f"gate {gate['gate']}, measured by {gate['measured_by']}"
        message = f"{key} {value:.6g} {_FLIPPED[op]} {threshold:g} ({where})"
        _outcome(case, "failure", message, "GateFailed")
    else:
        ET.SubElement(case, "system-out").text = f"{key} {value:.6g} {op} {threshold:g}"


def render(data: dict[str, Any], planned: Sequence[str], error: BaseException | None = None) -> str:
    """The XML for one run: `data` is run.json's dict, `planned` the stages the run meant to run.

    A stage in `planned` without a record is where `error` stopped the work (an error case), or one
    that never started after it (skipped).
    """
    command = data.get("command") or "run"
    suite = ET.Element("testsuite", name=f"ovtool {command}", timestamp=data.get("started_at") or "")
    properties = ET.SubElement(suite, "properties")
    environment = data.get("environment") or {}
    for name, value in (("ovtool_version", data.get("ovtool_version")), ("recipe_sha256", data.get("recipe_sha256")),
                        ("recipe", data.get("recipe_source")), ("cpu", environment.get("cpu"))):  # fmt: skip
        if value:
            ET.SubElement(properties, "property", name=name, value=str(value))
    done = {stage["stage"]: stage for stage in data.get("stages") or []}
    failed_stage = next((name for name in planned if name not in done), None) if error is not None else None
    for name in planned:
        classname = f"ovtool.{command}.{name}"
        stage = done.get(name)
        case = _case(suite, classname, f"{name}: ran", _stage_seconds(stage) if stage else 0.0)
        if stage is not None:
            if stage.get("summary"):
                ET.SubElement(case, "system-out").text = stage["summary"]
            for line in stage.get("check_failures") or []:
                check = _case(suite, classname, f"{name} check: {line.split(':', 1)[0][:80]}")
                _outcome(check, "failure", line, "CheckFailed")
        elif name == failed_stage and error is not None:
            message, kind = _error_text(error)
            _outcome(case, "error", message, kind)
        else:
            _outcome(case, "skipped", "not run: an earlier stage failed", "NotRun")
    if error is not None and failed_stage is None:  # every stage ran; writing or publishing OUT failed
        message, kind = _error_text(error)
        _outcome(_case(suite, f"ovtool.{command}", "publish OUT"), "error", message, kind)
    for gate in data.get("gates") or []:
        _gate_case(suite, f"ovtool.{command}.gates", gate, error)
    return _document(suite, data.get("duration_s"))


def _document(suite: ET.Element, seconds: float | None = None) -> str:
    """The suite's counts and time (`seconds`, else the cases' sum), wrapped in <testsuites> as XML text."""
    cases = suite.findall("testcase")
    counts = {tag: sum(1 for c in cases if c.find(tag) is not None) for tag in ("failure", "error", "skipped")}
    seconds = seconds or sum(float(c.get("time") or 0) for c in cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{float(seconds):.3f}")
    totals = ("tests", "failures", "errors", "skipped", "time")
    root = ET.Element("testsuites", {"name": "ovtool"} | {key: suite.get(key, "0") for key in totals})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(path: str, data: dict[str, Any], planned: Sequence[str], error: BaseException | None = None) -> None:
    """Write the XML to `path` atomically (a CI step reading it never sees half a file)."""
    _write(path, render(data, planned, error))


def _write(path: str, xml: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, xml)


def render_sweep(rows: Sequence[Any], started_at: str | None = None) -> str:
    """The XML for a sweep: one test case per trial (sweep rows: `ovtool.sweep.table.TrialRow`).

    A trial that met every gate passes; one that missed a gate fails with the gates it missed; one whose
    run failed is an error carrying its exit code and error line; one not run yet (Ctrl-C) is skipped.
    """
    suite = ET.Element("testsuite", name="ovtool sweep", timestamp=started_at or "")
    for row in rows:
        case = _case(suite, "ovtool.sweep", f"trial {row.id}", float(row.duration_s or 0.0))
        values = " ".join(f"{key}={value}" for key, value in row.values.items())
        if row.status == "ok":
            ET.SubElement(case, "system-out").text = values
        elif row.status == "gate_failed":
            missed = [g for g in row.gates if g.get("passed") is False]
            message = "; ".join(_missed_gate(g) for g in missed) or "a gate was not met"
            _outcome(case, "failure", message, "GateFailed", values)
        elif row.status in ("failed", "invalid"):
            _outcome(case, "error", f"exit {row.exit_code}: {row.error}", "TrialFailed", values)
        else:
            _outcome(case, "skipped", "not run: the sweep stopped before this trial finished", "NotRun")
    return _document(suite)


def _missed_gate(gate: dict[str, Any]) -> str:
    key, op = GATE_RULES[gate["gate"]]
    if gate.get("value") is None:
        return f"{key} not measured (gate {gate['gate']})"
    return f"{key} {gate['value']:.6g} {_FLIPPED[op]} {gate['threshold']:g} (gate {gate['gate']})"


def write_sweep(path: str, rows: Sequence[Any], started_at: str | None = None) -> None:
    """Write a sweep's XML to `path` atomically."""
    _write(path, render_sweep(rows, started_at))
