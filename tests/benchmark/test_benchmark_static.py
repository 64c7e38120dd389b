"""`ovtool benchmark` on the real MiniLM IR: exit codes, reports that parse, numbers that agree."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MINILM_DIR, run_cli

SHORT = ("--shape", "[1,32]", "-t", "1.5")


def records(out: Path) -> list[dict[str, Any]]:
    run = json.loads((out / "run.json").read_text())
    return run["stages"][0]["details"]["models"]


def check_latency_consistent(record: dict[str, Any]) -> None:
    lat = record["latency_ms"]
    assert all(isinstance(v, float) for v in lat.values())
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert lat["min"] <= lat["mean"] <= lat["max"]


def test_dynamic_model_without_shapes_exits_2(minilm_ir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("benchmark", "-m", minilm_ir, "-o", out)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "input 'input_ids' has a dynamic shape [?,?]" in lines[0]
    assert "--shape '[1,128]'" in lines[0] and "benchmark.shapes" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_dry_run_catches_unknown_input_and_missing_model(minilm_ir: Path, tmp_path: Path) -> None:
    proc = run_cli("benchmark", "-m", minilm_ir, "--shape", "input_idz=[1,8]", "-o", tmp_path / "o", "--dry-run")
    assert proc.returncode == 2
    assert "unknown input(s) input_idz" in proc.stderr and "input_ids" in proc.stderr
    proc = run_cli("benchmark", "-m", tmp_path / "missing.xml", "-o", tmp_path / "o", "--dry-run")
    assert proc.returncode == 2 and "model not found" in proc.stderr
    proc = run_cli("benchmark", "-m", minilm_ir, "--shape", "[1,8]", "-d", "GPU", "-o", tmp_path / "o", "--dry-run")
    assert proc.returncode == 2 and "device GPU is not available here (available: CPU" in proc.stderr


@pytest.mark.slow
def test_single_model_f32_gates_and_reports(minilm_ir: Path, tmp_path: Path) -> None:
    out = tmp_path / "one"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"model: {minilm_ir}\noutput: {out}\n"
        "benchmark: {shapes: [1, 32], duration_s: 1.5, precision: f32, hint: latency}\n"
        "gates: {min_throughput: 1, max_latency_ms: 10000, min_tokens_per_s: 1}\n"
    )
    proc = run_cli("benchmark", recipe)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "gate min_throughput: throughput" in proc.stderr and "ok" in proc.stderr
    assert "gate min_tokens_per_s: not measured" in proc.stderr  # reported, never silently skipped
    (record,) = records(out)
    assert record["precision"] == "f32"
    assert record["compiled_properties"]["PERFORMANCE_HINT"] == "LATENCY"
    check_latency_consistent(record)
    run = json.loads((out / "run.json").read_text())
    assert run["stages"][0]["gate_values"]["throughput"] == record["throughput_inferences_per_s"]
    assert {g["gate"]: g["passed"] for g in run["gates"]} == {
        "max_latency_ms": True, "min_throughput": True, "min_tokens_per_s": None,
    }  # fmt: skip

    failing = run_cli("benchmark", recipe, "--overwrite", "--set", "gates.min_throughput=1000000")
    assert failing.returncode == 3
    error = [line for line in failing.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "min_throughput" in error[0] and "FAILED" in error[0]
    assert (out / "run.json").exists()  # the measurement is published even when a gate fails

    regression = run_cli("benchmark", recipe, "--overwrite", "--set", "gates.max_regression_pct=10000",
                         "--set", "gates.baseline_run=" + str(tmp_path / "nope.json"))  # fmt: skip
    assert regression.returncode == 2 and "nope.json not found" in regression.stderr


@pytest.mark.slow
def test_two_models_interleaved_with_profile_and_pytorch(minilm_ir: Path, tmp_path: Path) -> None:
    """An IR and the HF folder it came from (converted on the fly): same weights, so ratios near 1."""
    out = tmp_path / "two"
    proc = run_cli(
        "benchmark", "-m", minilm_ir, "-m", MINILM_DIR, "-o", out, *SHORT, "--profile",
        "--set", "benchmark.labels=[ir, hf-source]", "--set", "benchmark.rounds=2",
        "--set", f"benchmark.pytorch_baseline={MINILM_DIR}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ir: ") and "hf-source: " in proc.stdout and "pytorch eager" in proc.stdout
    run = json.loads((out / "run.json").read_text())
    details = run["stages"][0]["details"]
    first, second = details["models"]
    assert [first["label"], second["label"]] == ["ir", "hf-source"]
    for record in (first, second, details["pytorch_baseline"]):
        check_latency_consistent(record)
        assert record["throughput_inferences_per_s"] > 0
    for record in (first, second):
        assert record["precision"] == details["environment"]["device_default_precision"]
        assert record["batch"] == 1 and record["input_shapes"]["input_ids"] == [1, 32]
        # Little's law: every request is kept busy, so throughput × mean latency ≈ requests in flight
        in_flight = record["throughput_inferences_per_s"] * record["latency_ms"]["mean"] / 1000
        assert 0.6 * record["infer_requests"] <= in_flight <= 1.05 * record["infer_requests"]
        assert record["weight_precisions"]["f32"] > 20_000_000
        graph = out / record["execution_graph"]
        assert graph.exists() and graph.with_suffix(".bin").exists()
        assert len(record["profile_top_ops"]) == 15
        times = [op["time_us"] for op in record["profile_top_ops"]]
        assert times == sorted(times, reverse=True)
    assert first["ratios"] == {"speedup": 1.0, "latency_ratio": 1.0, "compression_rate": 1.0, "output_size_ratio": 1.0}
    assert second["ratios"]["compression_rate"] == pytest.approx(1.0, abs=0.02)
    assert second["ratios"]["speedup"] == pytest.approx(
        second["throughput_inferences_per_s"] / first["throughput_inferences_per_s"], rel=1e-3
    )
    assert run["stages"][0]["gate_values"]["speedup"] == second["ratios"]["speedup"]

    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["model"] for r in rows] == ["ir", "hf-source", "pytorch eager"]
    assert float(rows[0]["throughput_inferences_per_s"]) == first["throughput_inferences_per_s"]
    markdown = (out / "report.md").read_text()
    assert "Models side by side" in markdown and "Top operations by time — ir" in markdown
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "Latency distribution" in html

    diff = run_cli("benchmark", "--compare", out / "run.json", out / "run.json", "--json")
    assert diff.returncode == 0, diff.stderr
    rows_diff = json.loads(diff.stdout)["rows"]
    assert {r["model"] for r in rows_diff} == {"ir", "hf-source"}
    assert all(r["change_pct"] == 0 for r in rows_diff)
    table = run_cli("benchmark", "--compare", out / "run.json", out)
    assert table.returncode == 0 and "| ir | inferences/s |" in table.stdout and "+0.00%" in table.stdout
