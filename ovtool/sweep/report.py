"""The sweep's outputs: sweep.json (the truth), report.md and report.html (table, front, plots, winner).

Every file is written to a temp name beside it and renamed into place, so a sweep stopped at any
moment leaves the previous complete file, never a half-written one.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool.artifacts import write_atomic
from ovtool.recipe.sections.sweep import SweepSection
from ovtool.sweep.table import IR_SIZE_SOURCE, TRIAL_IR_SIZE, TrialRow, missed_gates

SIZE_COLUMN = "trial IR MiB"  # the trial's own model, never the source it was made from
FRONT, FRONT_IGNORING_GATES, WINNER = " ◆", " ◇", " ★"


@dataclass
class SweepResult:
    """Everything the report shows: the rows, which are on the front, the winner and why."""

    sweep: SweepSection
    rows: list[TrialRow]
    front: list[str] = field(default_factory=list)  # trial ids on the feasible Pareto front
    best: str | None = None
    why: str = ""
    # no trial met the gates: the front of every finished trial, gates ignored, and the closest ones
    front_ignoring_gates: list[str] = field(default_factory=list)
    closest: list[str] = field(default_factory=list)
    started_at: str = ""
    finished_at: str | None = None
    complete: bool = False  # every valid trial has run (False while running or after Ctrl-C)

    def as_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "axes": self.sweep.axes,
            "strategy": self.sweep.strategy,
            "objectives": [o.model_dump() for o in self.sweep.objectives],
            "choose": self.sweep.choose.model_dump() if self.sweep.choose else None,
            "trials": [r.as_dict() for r in self.rows],
            "front": self.front,
            "front_ignoring_gates": self.front_ignoring_gates,
            "closest": self.closest,
            "best": self.best,
            "why": self.why,
        }


def write_all(result: SweepResult, out: Path) -> None:
    """sweep.json always; report.md and report.html once trials have finished."""
    write_atomic(out / "sweep.json", json.dumps(result.as_dict(), indent=2, default=str) + "\n")
    write_atomic(out / "report.md", markdown(result))
    write_atomic(out / "report.html", render_html(result))


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return flow(value).replace("|", "\\|")


def flow(value: Any, exact: bool = False) -> str:
    """An axis value as the recipe writes it (YAML flow style: `{auto: {top_k: 2}}`, not Python's repr).

    `exact`: floats in full and strings quoted where YAML would read them as something else, so that
    `KEY=VALUE` can be given back to `--set` as it is printed (the dry-run listing).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _yaml_float(value) if exact else f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k, exact)}: {flow(v, exact)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v, exact) for v in value) + "]"
    if exact and isinstance(value, str) and not _reads_back(value):
        return json.dumps(value)
    return str(value)


def _yaml_float(value: float) -> str:
    """Python's shortest exact float, spelt so YAML 1.1 reads a float (`1.0e-05`, not the string `1e-05`)."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    return text.replace("e", ".0e") if "e" in text and "." not in text else text


def _reads_back(text: str) -> bool:
    """Whether `text` unquoted inside a YAML flow sequence is that same string, read as `--set` reads it."""
    import yaml

    from ovtool.recipe import safe_yaml

    try:
        return bool(safe_yaml.load(f"[{text}]") == [text])
    except yaml.YAMLError:
        return False


def table(result: SweepResult) -> tuple[list[str], list[list[str]]]:
    """The trial table: id, every axis, every objective, the trial's IR size, status, front/winner marks."""
    axes = list(result.sweep.axes)
    names = [o.metric for o in result.sweep.objectives]
    columns = ["trial", *axes, *[f"{o.metric} ({o.goal})" for o in result.sweep.objectives], SIZE_COLUMN, "status"]
    rows = []
    for row in result.rows:
        mark = (WINNER if row.id == result.best else FRONT if row.id in result.front
                else FRONT_IGNORING_GATES if row.id in result.front_ignoring_gates else "")  # fmt: skip
        status = row.status + (" (reused)" if row.reused else "") + (f": {row.error}" if row.error else "")
        rows.append([row.id + mark, *[_fmt(row.values.get(a)) for a in axes],
                     *[_fmt(row.objectives.get(n)) for n in names], _fmt(row.size_mb), status])  # fmt: skip
    return columns, rows


def markdown(result: SweepResult) -> str:
    columns, rows = table(result)
    lines = ["# Sweep report", ""]
    done = sum(r.finished for r in result.rows)
    lines.append(f"{len(result.rows)} trials, {done} finished, {sum(r.feasible for r in result.rows)} meet the "
                 f"gates, {len(result.front)} on the Pareto front (◆)" + (", winner ★." if result.best else ".")
                 + (f" None meets the gates: {len(result.front_ignoring_gates)} on the Pareto front with the gates "
                    "ignored (◇), shown below; no winner (exit 3)." if result.front_ignoring_gates else "")
                 + ("" if result.complete else " **Incomplete**: re-run the same command to resume."))  # fmt: skip
    lines += ["", "## Winner", "", f"**{result.best}**: {result.why}" if result.best else result.why or "none", ""]
    lines += _no_winner(result)
    lines += ["## Trials", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", legend(result), "",
              "Each trial is a normal run: `trials/<id>/run.json` and `report.md` hold its numbers; `best.yaml` is "
              "the winner's recipe; `model` links to its model.", ""]  # fmt: skip
    return "\n".join(lines)


def legend(result: SweepResult) -> str:
    """What the marks and the size column mean."""
    marks = "◆ on the Pareto front of the trials that meet the gates; ★ the winner"
    if result.front_ignoring_gates:
        marks += "; ◇ on the Pareto front with the gates ignored (no trial meets them)"
    return f"{marks}. {SIZE_COLUMN}: the trial's own model, {IR_SIZE_SOURCE}."


def _no_winner(result: SweepResult) -> list[str]:
    """No trial meets the gates: the unconstrained front and the closest trials, each with its numbers."""
    if not result.front_ignoring_gates and not result.closest:
        return []
    rows = {r.id: r for r in result.rows}
    names = [o.metric for o in result.sweep.objectives]

    def numbers(tid: str) -> str:
        return ", ".join(f"{n} {_fmt(rows[tid].objectives.get(n))}" for n in names)

    lines = ["## Pareto front, gates ignored (no trial meets the gates: exit 3)", "",
             "Not a winner: the trade-offs the sweep found, to choose the next sweep's axes or gates from.", ""]
    lines += [f"- ◇ {tid}: {numbers(tid)}" for tid in result.front_ignoring_gates]
    lines += ["", "Closest to the gates (smallest summed shortfall relative to each threshold):", ""]
    for tid in result.closest:
        lines.append(f"- {tid}: {missed_gates(rows[tid]) or 'gates not measured'}; {numbers(tid)}")
    return [*lines, ""]


def plots(result: SweepResult) -> list[tuple[str, bytes]]:
    """Quality (the first objective) against each other objective and against size; the front highlighted."""
    objectives = result.sweep.objectives
    finished = [r for r in result.rows if r.finished]
    if not finished:
        return []
    quality = objectives[0]
    pairs: list[tuple[str, str, Any]] = [(o.metric, f"{o.metric} ({o.goal})", o) for o in objectives[1:]]
    if TRIAL_IR_SIZE not in [o.metric for o in objectives] and any(r.size_mb is not None for r in finished):
        pairs.append(("size_mb", f"{SIZE_COLUMN} (min)", None))
    out = []
    for key, label, objective in pairs:
        def x_of(row: TrialRow, key: str = key, objective: Any = objective) -> float | None:
            return row.objectives.get(key) if objective is not None else row.size_mb

        points = [(x_of(r), r.objectives.get(quality.metric), r) for r in finished]
        points = [(x, y, r) for x, y, r in points if x is not None and y is not None]
        if points:
            out.append((f"{quality.metric} vs {label}", _scatter(points, label, quality.metric, result)))
    return out


def _scatter(points: list[tuple[float, float, TrialRow]], xlabel: str, ylabel: str, result: SweepResult) -> bytes:
    from ovtool.plotting import png, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ignored = set(result.front_ignoring_gates)  # set only when no trial meets the gates
    groups = {
        "infeasible (gates)": ([p for p in points if not p[2].feasible and p[2].id not in ignored], "#bbbbbb", "x"),
        "feasible": ([p for p in points if p[2].feasible and p[2].id not in result.front], "#4c78a8", "o"),
        "Pareto front": ([p for p in points if p[2].id in result.front], "#e45756", "D"),
        "Pareto front, gates ignored": ([p for p in points if p[2].id in ignored], "#f58518", "D"),
    }
    for label, (group, color, marker) in groups.items():
        if group:
            ax.scatter([p[0] for p in group], [p[1] for p in group], c=color, marker=marker, label=label, s=40)
    for x, y, row in points:
        if row.id == result.best:
            ax.scatter([x], [y], s=220, facecolors="none", edgecolors="black", linewidths=1.5, label="winner")
        ax.annotate(row.id[:18], (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return png(fig)


def render_html(result: SweepResult) -> str:
    columns, rows = table(result)
    esc = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>ovtool sweep</title>",
             "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:2px 6px;"
             "font-size:13px}table{border-collapse:collapse}</style>", "<h1>Sweep report</h1>",
             f"<h2>Winner</h2><p><b>{esc(result.best or 'none')}</b>: {esc(result.why)}</p>"]  # fmt: skip
    if not result.complete:
        parts.append("<p><b>Incomplete</b>: re-run the same command to resume.</p>")
    parts.append("<h2>Trials</h2><table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>")
    parts += ["<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows]
    parts.append(f"</table><p>{esc(legend(result))}</p>")
    parts += _html_lines(_no_winner(result))
    for title, data in plots(result):
        encoded = base64.b64encode(data).decode()
        parts.append(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{encoded}'>")
    return "\n".join(parts) + "\n"


def _html_lines(lines: list[str]) -> list[str]:
    """The few markdown shapes _no_winner writes (## heading, - item, paragraph) as HTML."""
    out: list[str] = []
    for line in lines:
        if line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("- "):
            if not out or out[-1] != "</ul>":
                out.append("<ul>")
            else:
                out.pop()
            out += [f"<li>{html.escape(line[2:])}</li>", "</ul>"]
        elif line:
            out.append(f"<p>{html.escape(line)}</p>")
    return out
