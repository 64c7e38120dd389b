"""The run record (run.json) and its human views (report.md, report.html), from one typed source."""

from __future__ import annotations

import base64
import functools
import html
import json
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ovtool import __version__
from ovtool.cache.keys import library_versions as versions_of
from ovtool.context import StageContext
from ovtool.gates import GateOutcome
from ovtool.results import Plot, StageResult, Table

LIBRARIES = (
    "openvino", "openvino-tokenizers", "openvino-genai", "nncf", "optimum-intel", "optimum",
    "transformers", "tokenizers", "torch", "datumaro", "datasets", "pydantic", "typer",
)  # fmt: skip


def library_versions() -> dict[str, str | None]:
    """The versions run.json records, in LIBRARIES order (no library is imported)."""
    return versions_of(LIBRARIES)


@functools.cache
def cpu_name() -> str:
    """The CPU as OpenVINO names it (FULL_DEVICE_NAME): the one name every report and cache key uses, the
    same the benchmark's `device_name` shows (asked once per process)."""
    from ovtool.backends.openvino.ov_bench import device_name

    return device_name("CPU")


def environment() -> dict[str, Any]:
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def plain(value: Any) -> Any:
    """JSON-ready form of a stage's details: typed results (anything with `as_dict()`) serialised here, once."""
    if hasattr(value, "as_dict"):
        return plain(value.as_dict())
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


@dataclass
class StageRecord:
    """One stage's result plus how it ran, as stored in run.json."""

    result: StageResult
    ctx: StageContext
    model_rel: str | None
    # how the stage cache served it: {"status": "hit" | "miss" | "off", "key": …} (ovtool/run_cache.py)
    cache: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "stage": r.stage,
            "input": None if self.ctx.input.model is None else str(self.ctx.input.model),
            "model": self.model_rel,
            "summary": r.summary,
            "metrics": {k: m.as_dict() for k, m in r.metrics.items()},
            "details": plain(r.details),
            "tables": [{"title": t.title, "columns": t.columns, "rows": t.rows} for t in r.tables],
            "gate_values": r.gate_values,
            "steps": [s.as_dict() for s in self.ctx.steps],
            "warnings": r.warnings,
            "check_failures": r.check_failures,
            **({"cache": self.cache} if self.cache is not None else {}),
        }


@dataclass
class RunRecord:
    command: str
    recipe_sha256: str
    recipe_source: str | None
    started_at: str
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    stages: list[StageRecord] = field(default_factory=list)
    gates: list[GateOutcome] = field(default_factory=list)
    finished_at: str | None = None
    duration_s: float | None = None

    @property
    def status(self) -> str:
        failed = any(g.passed is False for g in self.gates) or any(s.result.check_failures for s in self.stages)
        return "gate_failed" if failed else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "command": self.command,
            "ovtool_version": __version__,
            "libraries": library_versions(),
            "environment": environment(),
            "recipe_sha256": self.recipe_sha256,
            "recipe_source": self.recipe_source,
            "inputs": self.inputs,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "stages": [s.as_dict() for s in self.stages],
            "gates": [g.as_dict() for g in self.gates],
        }


def write_reports(record: RunRecord, folder: Path) -> None:
    """run.json always; report.md always; report.html when a stage produced plots."""
    data = record.as_dict()
    (folder / "run.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (folder / "report.md").write_text(render_markdown(record, data))
    if any(s.result.plots for s in record.stages):
        (folder / "report.html").write_text(render_html(record, data))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ⏎ ")


def _md_table(columns: list[str], rows: list[list[Any]], max_rows: int | None = None) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    shown = rows if max_rows is None else rows[:max_rows]
    text = head + "".join("| " + " | ".join(_md_cell(c) for c in row) + " |\n" for row in shown)
    if len(shown) < len(rows):
        text += f"\n_… {len(rows) - len(shown)} more rows in run.json_\n"
    return text


@dataclass
class _Part:
    """One heading of the human views: a stage (note, tables, plots), the gates, or the environment.

    `heading` may hold `code` spans (Markdown); the HTML view turns them into <code>.
    """

    heading: str
    tables: list[Table]
    note: str = ""
    plots: list[Plot] = field(default_factory=list)


HEADLINE_TABLES = 2  # a stage's first tables (what it measured, its own first table) come before its plots


def _parts(record: RunRecord, data: dict[str, Any]) -> list[_Part]:
    """The verdict (gates) first, then each stage, then the environment: shared by report.md and report.html."""
    out: list[_Part] = []
    if record.gates:
        rows = [[g.gate, g.threshold, g.value, {True: "pass", False: "FAIL", None: "not measured"}[g.passed]]
                for g in record.gates]  # fmt: skip
        out.append(_Part("Gates", [Table("", ["gate", "threshold", "value", "result"], rows)]))
    for stage in record.stages:
        r = stage.result
        tables = []
        if r.metrics:
            rows = [[k, m.value, m.unit, m.description] for k, m in r.metrics.items()]
            tables.append(Table("Measured", ["metric", "value", "unit", "what"], rows))
        tables.extend(r.tables)
        if stage.ctx.steps:
            rows = [[s.name, round(s.seconds, 2), round(s.peak_rss_bytes / 2**20)] for s in stage.ctx.steps]
            tables.append(Table("Steps", ["step", "seconds", "peak RSS (MiB)"], rows))
        note = r.summary + ("\n\nWarnings: " + "; ".join(r.warnings) if r.warnings else "")
        if r.check_failures:
            note += "\n\nFailed checks: " + "; ".join(r.check_failures)
        if stage.cache is not None and stage.cache.get("key"):
            note += f"\n\nStage cache: {stage.cache['status']} (key `{stage.cache['key'][:16]}…`)"
        out.append(_Part(f"Stage `{r.stage}`", tables, note.strip(), r.plots))
    env = data["environment"] | {k: v for k, v in data["libraries"].items() if v}
    out.append(_Part("Environment", [Table("", ["what", "value"], [[k, v] for k, v in env.items()])]))
    return out


# GitHub refuses a PR/issue comment over 65,536 characters; room is left for what a CI job wraps around it.
MD_LIMIT = 60_000
_ROW_CAPS = (200, 50, 20, 10, 5)


def render_markdown(record: RunRecord, data: dict[str, Any], limit: int = MD_LIMIT) -> str:
    """report.md, paste-able as a PR comment: long tables are shortened until it fits under `limit`, and the
    end says what was cut (run.json always holds everything)."""
    parts = _parts(record, data)
    text = _markdown(record, parts, None)
    if len(text) <= limit:
        return text
    for cap in _ROW_CAPS:
        text = _markdown(record, parts, cap)
        cut = [f"{t.title or p.heading.replace('`', '')} ({len(t.rows)} rows)"
               for p in parts for t in p.tables if len(t.rows) > cap]  # fmt: skip
        note = (f"\n---\n_Cut to stay under GitHub's 65,536-character comment limit: tables shortened to their first "
                f"{cap} rows: {'; '.join(cut)}. run.json and report.html hold everything._\n")
        if len(text) + len(note) <= limit:
            return text + note
    note = (f"\n---\n_Cut at {limit:,} characters to stay under GitHub's 65,536-character comment limit (tables "
            f"shortened to {_ROW_CAPS[-1]} rows, then the rest of the text cut). run.json holds everything._\n")
    keep = text[: limit - len(note)]
    return keep[: keep.rfind("\n") + 1] + note


def _markdown(record: RunRecord, parts: list[_Part], max_rows: int | None) -> str:
    lines = [
        f"# ovtool {record.command} — {record.status}\n",
        f"- recipe sha256: `{record.recipe_sha256}` ({record.recipe_source or 'flags only'})",
        f"- started {record.started_at}, took {record.duration_s} s",
    ]
    for name, info in record.inputs.items():
        lines.append(f"- input `{name}`: {info.get('path')} (sha256 `{info.get('sha256', '')[:16]}…`)")
    text = "\n".join(lines) + "\n"
    for part in parts:
        text += f"\n## {part.heading}\n\n" + (f"{part.note}\n\n" if part.note else "")
        for table in part.tables:
            text += (f"### {table.title}\n\n" if table.title else "") + _md_table(table.columns, table.rows, max_rows)
            text += "\n"
    return text


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:75em;margin:1em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td{overflow-wrap:break-word;max-width:32em}code{background:#f3f3f3;padding:0 3px}"
    "figure{margin:1em 0}img{max-width:100%;height:auto}figcaption{font-weight:600;margin-bottom:.3em}"
    "h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}.fail{color:#b00020;font-weight:600}"
    "figure img{border:1px solid #eee}"
)


def _inline_html(text: str) -> str:
    """Escaped text with Markdown `code` spans as <code> (headings and notes carry them), no raw Markdown."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _html_table(table: Table) -> str:
    """Numbers right-aligned (their column header too), text left-aligned; FAIL stands out."""
    numeric = [all(_numeric(row[i]) or row[i] is None for row in table.rows if i < len(row)) and bool(table.rows)
               for i in range(len(table.columns))]  # fmt: skip
    head = "".join(f"<th{' class=n' if numeric[i] else ''}>{html.escape(c)}</th>" for i, c in enumerate(table.columns))
    rows = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in table.rows)
    title = f"<h3>{html.escape(table.title)}</h3>" if table.title else ""
    return f"{title}<table><tr>{head}</tr>{rows}</table>"


def _html_cell(value: Any) -> str:
    text = html.escape(_fmt(value))
    if value == "FAIL":
        return f"<td class=fail>{text}</td>"
    return f"<td class=n>{text}</td>" if _numeric(value) else f"<td>{text}</td>"


def _html_plot(plot: Plot) -> str:
    b64 = base64.b64encode(plot.png).decode()
    alt = html.escape(plot.alt or f"Chart: {plot.title}", quote=True)
    return (f"<figure><figcaption>{html.escape(plot.title)}</figcaption>"
            f"<img src='data:image/png;base64,{b64}' alt='{alt}'></figure>")  # fmt: skip


def render_html(record: RunRecord, data: dict[str, Any]) -> str:
    """report.html: per stage its note, headline tables, plots, then the other tables; gates first."""
    parts = [
        "<!doctype html><html lang='en'><meta charset='utf-8'>",
        f"<title>ovtool {html.escape(record.command)} — {html.escape(record.status)}</title><style>{_CSS}</style>",
        f"<h1>ovtool {html.escape(record.command)} — {html.escape(record.status)}</h1>",
        f"<p>started {html.escape(record.started_at)}, took {record.duration_s} s · recipe "
        f"{html.escape(record.recipe_source or 'flags only')} (sha256 <code>{record.recipe_sha256[:16]}…</code>)</p>",
    ]
    for part in _parts(record, data):
        parts.append(f"<h2>{_inline_html(part.heading)}</h2>")
        parts.extend(f"<p>{_inline_html(para)}</p>" for para in part.note.split("\n\n") if para.strip())
        parts.extend(_html_table(t) for t in part.tables[:HEADLINE_TABLES])
        parts.extend(_html_plot(p) for p in part.plots)
        parts.extend(_html_table(t) for t in part.tables[HEADLINE_TABLES:])
    return "\n".join(parts) + "\n"
