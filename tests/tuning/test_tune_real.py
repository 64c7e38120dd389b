"""A real `ovtool tune` on the INT4 SmolLM2 IR (small budget), and `generate` reusing what it stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

PROMPT = "What is the capital of France?"


def _generate(ir: Path, out: Path, env: dict[str, str]) -> dict:
    proc = run_cli("generate", "-m", ir, "-p", PROMPT, "--max-new-tokens", "8", "--no-cache", "-o", out, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "run.json").read_text())["stages"][0]["details"]


@pytest.mark.slow
def test_tune_stores_a_choice_generate_reuses_it(smollm2_int4_ir: Path, tmp_path: Path) -> None:
    env = {"OVTOOL_CACHE": str(tmp_path / "cache")}
    first = _generate(smollm2_int4_ir, tmp_path / "g0", env)
    assert first["precision_choice"]["source"] == "rule"  # nothing stored yet: the rule, no measurement

    proc = run_cli("tune", "-m", smollm2_int4_ir, "--seconds", "0.3", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "measuring" in proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split()[:3] == ["axis", "settings", "ms"]
    axes = [row.split()[0] for row in rows]
    assert axes.count("precision") >= 1 and "kv" in axes  # each axis tried, the incumbent listed first
    records = list((tmp_path / "cache" / "tuning").glob("*.json"))
    assert len(records) == 1
    stored = json.loads(records[0].read_text())
    settings = stored["settings"]
    assert stored["kind"] == "llm" and settings["INFERENCE_PRECISION_HINT"] in ("f32", "bf16", "f16")
    tried = stored["tried"]
    assert all(r["quality_ok"] for r in tried if r["chosen"])  # nothing that changed the greedy text is chosen
    assert any(r["chosen"] and r["settings"] == settings for r in tried)
    before = (records[0].read_bytes(), records[0].stat().st_mtime_ns)

    for name in ("g1", "g2"):  # both runs reuse it; neither measures again
        details = _generate(smollm2_int4_ir, tmp_path / name, env)
        assert details["precision_choice"]["source"] == "stored"
        assert {k: details["device_properties"][k] for k in settings} == settings
    assert (records[0].read_bytes(), records[0].stat().st_mtime_ns) == before

    again = run_cli("tune", "-m", smollm2_int4_ir, "--json", env=env)
    assert again.returncode == 0 and "measuring" not in again.stderr
    assert json.loads(again.stdout)["source"] == "stored"
