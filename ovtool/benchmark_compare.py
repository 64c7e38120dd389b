"""Two earlier benchmark runs compared (`ovtool benchmark --compare A B`) and the regression gate.

Models are matched by label; when each run measured one model, those two are compared whatever
their labels. Differences are in percent of run A: (B − A) / A × 100.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool.errors import UserError

STATIC_FIGURES = (
    ("throughput_inferences_per_s", "inferences/s", True),
    ("throughput_items_per_s", "items/s", True),
    ("latency_ms.p50", "latency p50 ms", False),
    ("latency_ms.p90", "latency p90 ms", False),
    ("latency_ms.p99", "latency p99 ms", False),
    ("first_inference_ms", "first inference ms", False),
    ("compile_ms", "compile ms", False),
    ("ir_size_mb", "IR size MiB", False),
    ("output_bytes", "output bytes per inference", False),
)
LLM_FIGURES = (
    ("generation_tokens_per_s", "generation tokens/s", True),
    ("ttft_ms_longest_prompt", "TTFT ms (longest prompt)", False),
    ("tpot_ms", "TPOT ms", False),
    ("pipeline_load_ms", "pipeline load ms", False),
    ("ir_size_mb", "IR size MiB", False),
)


# The one speed figure a regression is measured on, per mode.
HEADLINE = {"static": "throughput_inferences_per_s", "llm": "generation_tokens_per_s"}


@dataclass
class BenchmarkRun:
    """The benchmark stage of a run.json: its mode and its model records (as read from JSON) by label."""

    path: Path
    mode: str
    models: Mapping[str, Any]


def load_benchmark_run(path: Path) -> BenchmarkRun:
    """Read a run.json written by `ovtool benchmark` (or `ovtool run` with a benchmark section)."""
    if path.is_dir():
        path = path / "run.json"
    if not path.exists():
        raise UserError(f"{path} not found: give the run.json of an earlier `ovtool benchmark`")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a JSON run record: {exc}") from exc
    stage = next((s for s in data.get("stages", []) if isinstance(s, dict) and s.get("stage") == "benchmark"), None)
    if stage is None or "models" not in stage.get("details", {}):
        raise UserError(f"{path} holds no benchmark results: give the run.json of an `ovtool benchmark` run")
    details = stage["details"]
    return BenchmarkRun(path, details["mode"], {m["label"]: m for m in details["models"]})


def _pairs(a: BenchmarkRun, b: BenchmarkRun) -> list[tuple[str, Any, Any]]:
    """(shown label, A's model, B's model) for the models both runs measured."""
    if a.mode != b.mode:
        raise UserError(f"cannot compare a {a.mode} run ({a.path}) with a {b.mode} run ({b.path})")
    common = [label for label in a.models if label in b.models]
    if common:
        return [(label, a.models[label], b.models[label]) for label in common]
    if len(a.models) == 1 and len(b.models) == 1:
        (la, ma), (lb, mb) = next(iter(a.models.items())), next(iter(b.models.items()))
        return [(f"{la} → {lb}", ma, mb)]
    raise UserError(
        f"no model label in both runs ({', '.join(a.models)} vs {', '.join(b.models)}): "
        "set the same benchmark.labels in both runs"
    )


def _get(record: dict[str, Any], dotted: str) -> float | None:
    node: Any = record
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) else None


def _pct(old: float | None, new: float | None) -> float | None:
    if old is None or new is None or old == 0:
        return None
    return round((new - old) / old * 100, 2)


def compare_runs(path_a: Path, path_b: Path) -> dict[str, Any]:
    """Every figure of every matched model: A, B and the change in percent (with which way is better)."""
    a, b = load_benchmark_run(path_a), load_benchmark_run(path_b)
    figures = LLM_FIGURES if a.mode == "llm" else STATIC_FIGURES
    rows: list[dict[str, Any]] = []
    for label, ma, mb in _pairs(a, b):
        for key, name, higher_is_better in figures:
            old, new = _get(ma, key), _get(mb, key)
            change = _pct(old, new)
            better = None if change is None or change == 0 else (change > 0) == higher_is_better
            rows.append({"model": label, "figure": name, "key": key, "a": old, "b": new, "change_pct": change,
                         "better": better})  # fmt: skip
        if a.mode == "llm":
            rows.extend(_llm_point_rows(label, ma, mb))
    return {"a": str(a.path), "b": str(b.path), "mode": a.mode, "rows": rows}


def _llm_point_rows(label: str, ma: dict[str, Any], mb: dict[str, Any]) -> list[dict[str, Any]]:
    points_b = {(p["prompt_tokens"], p["output_tokens"]): p for p in mb.get("points", [])}
    rows = []
    for pa in ma.get("points", []):
        pb = points_b.get((pa["prompt_tokens"], pa["output_tokens"]))
        if pb is None:
            continue
        where = f"@{pa['prompt_tokens']}+{pa['output_tokens']}"
        for key, name, higher in (("generation_tokens_per_s", "tokens/s", True), ("ttft_ms", "TTFT ms", False),
                                  ("tpot_ms", "TPOT ms", False)):  # fmt: skip
            change = _pct(pa[key], pb[key])
            better = None if change is None or change == 0 else (change > 0) == higher
            rows.append({"model": label, "figure": f"{name} {where}", "key": f"points.{key}", "a": pa[key],
                         "b": pb[key], "change_pct": change, "better": better})  # fmt: skip
    return rows


def render_markdown(diff: dict[str, Any]) -> str:
    """The diff as a markdown table (stdout of `ovtool benchmark --compare`)."""
    lines = [
        f"A: {diff['a']}",
        f"B: {diff['b']}",
        "",
        "| model | figure | A | B | change |",
        "|---|---|---|---|---|",
    ]
    for row in diff["rows"]:
        change = "-" if row["change_pct"] is None else f"{row['change_pct']:+.2f}%"
        verdict = {True: " (better)", False: " (worse)", None: ""}[row["better"]]
        lines.append(f"| {row['model']} | {row['figure']} | {_num(row['a'])} | {_num(row['b'])} | {change}{verdict} |")
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def regression_pct(baseline: Path, mode: str, current: dict[str, float]) -> tuple[float, dict[str, Any]]:
    """The largest slowdown (percent, positive = slower) of this run's models against a baseline run.

    `current` is this run's headline figure (inferences/s, or generation tokens/s for LLMs) by label.
    """
    base = load_benchmark_run(baseline)
    per_model: dict[str, float] = {}
    for label, old, after in _pairs(base, BenchmarkRun(Path("this run"), mode, current)):
        before = old[HEADLINE[mode]]
        per_model[label] = round((before - after) / before * 100, 2) if before else 0.0
    worst = max(per_model.values())
    return worst, {"baseline_run": str(base.path), "slowdown_pct_by_model": per_model,
                   "figure": "generation tokens/s" if mode == "llm" else "inferences/s"}  # fmt: skip
