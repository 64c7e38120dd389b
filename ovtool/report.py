"""The run record (run.json) and its human views (report.md, report.html), from one typed source."""

from __future__ import annotations

import base64
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
from ovtool.results import StageResult, Table

LIBRARIES = (
    "openvino", "openvino-tokenizers", "openvino-genai", "nncf", "optimum-intel", "optimum",
    "transformers", "tokenizers", "torch", "datumaro", "datasets", "pydantic", "typer",
)  # fmt: skip


def library_versions() -> dict[str, str | None]:
    """The versions run.json records, in LIBRARIES order (no library is imported)."""
    return versions_of(LIBRARIES)


def environment() -> dict[str, Any]:
    cpu = platform.processor() or ""
    cpuinfo = Path("/proc/cpuinfo")  # Linux names the CPU model here; elsewhere platform.processor() stands
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
    return {
        "cpu": cpu,
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


def _md_table(columns: list[str], rows: list[list[Any]]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(_md_cell(c) for c in row) + " |\n" for row in rows)


def _sections(record: RunRecord, data: dict[str, Any]) -> list[tuple[str, list[Table], str]]:
    """(heading, tables, note) triples shared by the markdown and HTML views."""
    out: list[tuple[str, list[Table], str]] = []
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
        if stage.cache is not None and stage.cache.get("key"):
            note += f"\n\nStage cache: {stage.cache['status']} (key `{stage.cache['key'][:16]}…`)"
        out.append((f"Stage `{r.stage}`", tables, note))
    if record.gates:
        rows = [[g.gate, g.threshold, g.value, {True: "pass", False: "FAIL", None: "not measured"}[g.passed]]
                for g in record.gates]  # fmt: skip
        out.append(("Gates", [Table("", ["gate", "threshold", "value", "result"], rows)], ""))
    env = data["environment"] | {k: v for k, v in data["libraries"].items() if v}
    out.append(("Environment", [Table("", ["what", "value"], [[k, v] for k, v in env.items()])], ""))
    return out


def render_markdown(record: RunRecord, data: dict[str, Any]) -> str:
    lines = [
        f"# ovtool {record.command} — {record.status}\n",
        f"- recipe sha256: `{record.recipe_sha256}` ({record.recipe_source or 'flags only'})",
        f"- started {record.started_at}, took {record.duration_s} s",
    ]
    for name, info in record.inputs.items():
        lines.append(f"- input `{name}`: {info.get('path')} (sha256 `{info.get('sha256', '')[:16]}…`)")
    text = "\n".join(lines) + "\n"
    for heading, tables, note in _sections(record, data):
        text += f"\n## {heading}\n\n" + (f"{note}\n\n" if note else "")
        for table in tables:
            text += (f"### {table.title}\n\n" if table.title else "") + _md_table(table.columns, table.rows) + "\n"
    return text


def render_html(record: RunRecord, data: dict[str, Any]) -> str:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>ovtool report</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>",
        f"<h1>ovtool {html.escape(record.command)} — {html.escape(record.status)}</h1>",
    ]
    for heading, tables, note in _sections(record, data):
        parts.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(note)}</p>")
        for table in tables:
            parts.append(f"<h3>{html.escape(table.title)}</h3><table><tr>")
            parts.append("".join(f"<th>{html.escape(c)}</th>" for c in table.columns) + "</tr>")
            for row in table.rows:
                parts.append("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>")
            parts.append("</table>")
    for stage in record.stages:
        for plot in stage.result.plots:
            b64 = base64.b64encode(plot.png).decode()
            parts.append(f"<h3>{html.escape(plot.title)}</h3><img src='data:image/png;base64,{b64}'>")
    return "\n".join(parts) + "\n"
