"""`ovtool benchmark` on the real SmolLM2 IR: routed to openvino_genai, TTFT/TPOT per prompt length."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import NUDENET_ONNX, SHAKESPEARE_DIR, SMOLLM2_GGUF, run_cli


@pytest.mark.slow
def test_smollm2_llm_metrics_and_failing_ttft_gate(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    out = tmp_path / "llm"
    recipe = tmp_path / "llm.yaml"
    recipe.write_text(
        f"model: {smollm2_fp16_ir}\noutput: {out}\n"
        f"benchmark: {{prompt_lengths: [16, 32], output_lengths: [8], repeats: 2, warmup: 1,"
        f" prompt_text: {SHAKESPEARE_DIR}}}\n"
        "gates: {min_tokens_per_s: 0.5, max_ttft_ms: 0.001}\n"
    )
    proc = run_cli("benchmark", recipe)
    assert proc.returncode == 3, proc.stderr[-3000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "max_ttft_ms" in error[0] and "min_tokens_per_s" not in error[0]
    assert "gate min_tokens_per_s: tokens_per_s" in proc.stderr  # the passing gate is reported too

    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "gate_failed"
    details = run["stages"][0]["details"]
    assert details["mode"] == "llm" and details["environment"]["openvino_genai"]
    (record,) = details["models"]
    assert record["precision"] in ("bf16", "f32", "f16")
    assert [(p["prompt_tokens"], p["output_tokens"], p["runs"]) for p in record["points"]] == [(16, 8, 2), (32, 8, 2)]
    for point in record["points"]:
        assert point["ttft_ms"] > 0 and point["tpot_ms"] > 0
        dist = point["tpot_ms_distribution"]
        assert dist["p50"] <= dist["p90"] <= dist["p99"] <= dist["max"]
        assert point["tpot_p90_ms"] == dist["p90"]
        # openvino_genai's generation rate is the inverse of the time per output token: the mean TPOT's
        # inverse lies within the runs' rates (mean(1/x) and 1/mean(x) part on a loaded machine)
        rates = point["generation_tokens_per_s_runs"]
        assert min(rates) * 0.95 <= 1000 / point["tpot_ms"] <= max(rates) * 1.05
        assert point["generation_tokens_per_s"] == pytest.approx(sum(rates) / len(rates), rel=1e-3)
        assert point["end_to_end_tokens_per_s"] <= point["generation_tokens_per_s"] * 1.05
    gates = run["stages"][0]["gate_values"]
    assert gates["tokens_per_s"] == record["generation_tokens_per_s"] > 0.5
    assert gates["ttft_ms"] == record["ttft_ms_longest_prompt"]
    metrics = run["stages"][0]["metrics"]
    label = record["label"]
    longest = record["points"][-1]
    assert metrics[f"{label}.prefill_tokens_per_s"]["value"] == pytest.approx(32_000 / longest["ttft_ms"], rel=0.01)
    assert metrics[f"{label}.load_s"]["value"] == pytest.approx(record["pipeline_load_ms"] / 1000, abs=0.001)
    assert all(metrics[f"{label}.{name}"]["description"].startswith("warm:")
               for name in ("generation_tokens_per_s", "tpot_ms", "ttft_ms", "prefill_tokens_per_s"))  # fmt: skip
    assert record["weight_precisions"].get("f16", 0) > 100_000_000
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [(r["prompt_tokens"], r["output_tokens"]) for r in rows] == [("16", "8"), ("32", "8")]
    assert "TTFT and TPOT per prompt length" in (out / "report.html").read_text()


def test_stateful_llm_as_static_is_refused(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    proc = run_cli("benchmark", "-m", smollm2_fp16_ir, "-o", tmp_path / "o", "--set", "benchmark.mode=static",
                   "--dry-run")  # fmt: skip
    assert proc.returncode == 2
    assert "stateful LLM" in proc.stderr and "mode: llm" in proc.stderr


@pytest.mark.parametrize("llm_is_ir", [True, False])
def test_llm_and_static_models_together_fail_at_dry_run(llm_is_ir: bool, request: pytest.FixtureRequest,
                                                        tmp_path: Path) -> None:  # fmt: skip
    """An LLM (its IR, or a GGUF that becomes one) beside a static model is refused before any conversion."""
    llm = request.getfixturevalue("smollm2_fp16_ir") if llm_is_ir else SMOLLM2_GGUF
    proc = run_cli("benchmark", "-m", NUDENET_ONNX, "-m", llm, "-o", tmp_path / "o", "--dry-run")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: benchmark: LLM and static models"), proc.stderr
    assert "320n (static)" in lines[0] and "(llm)" in lines[0] and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_auto_precision_benchmarks_each_llm_as_generate_runs_it(smollm2_fp16_ir: Path, smollm2_int4_ir: Path,
                                                               tmp_path: Path) -> None:  # fmt: skip
    """precision auto: the INT4 IR at f32 (generate's choice on CPU), the FP16 IR at the device default."""
    out = tmp_path / "auto"
    proc = run_cli("benchmark", "-m", smollm2_fp16_ir, "-m", smollm2_int4_ir, "--precision", "auto", "-o", out,
                   "--set", "benchmark.prompt_lengths=[16]", "--set", "benchmark.output_lengths=[8]",
                   "--set", "benchmark.repeats=1", "--set", f"benchmark.prompt_text={SHAKESPEARE_DIR}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    details = json.loads((out / "run.json").read_text())["stages"][0]["details"]
    fp16, int4 = details["models"]
    assert int4["precision"] == "f32"
    assert fp16["precision"] == details["environment"]["device_default_precision"]
