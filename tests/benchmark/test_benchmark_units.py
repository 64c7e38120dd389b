"""Benchmark pieces that need no model: recipe checks, shape flags, labels, statistics, run diffs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovtool.benchmark_compare import compare_runs, regression_pct
from ovtool.cli.benchmark import parse_shapes
from ovtool.context import DatasetOutput, Pending, StageContext, StageInput
from ovtool.errors import RecipeError, UserError
from ovtool.recipe.loader import load_recipe
from ovtool.recipe.sections.benchmark import BenchmarkSection
from ovtool.report import plain
from ovtool.stages.benchmark import labels_for, model_sources
from ovtool.stages.benchmark_ratios import add_static_ratios
from ovtool.stages.benchmark_records import IRFacts, Latency, StaticRecord
from ovtool.stages.benchmark_report import static_csv, static_gate_values, static_tables
from ovtool.stages.dataset_refs import exists_or_pending
from ovtool.stats import summarize_ms
from tests.conftest import ROOT, run_cli


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    return info.value.problems


def test_recipe_combinations_rejected(tmp_path: Path) -> None:
    assert "give duration_s or iterations" in problems(tmp_path, "benchmark: {duration_s: 2, iterations: 5}\n")[0]
    assert "labels has 1 names for 2 models" in problems(tmp_path, "benchmark: {models: [a, b], labels: [x]}\n")[0]
    assert "positive" in problems(tmp_path, "benchmark: {prompt_lengths: [0]}\n")[0]
    assert "shape" in problems(tmp_path, "benchmark: {shapes: {input_ids: []}}\n")[0]
    (problem,) = problems(tmp_path, "benchmark: {mode: llm, shapes: [1, 8]}\n")
    assert "shapes applies to static models" in problem
    (problem,) = problems(tmp_path, "benchmark: {hint: fastest}\n")
    assert problem.startswith("benchmark.hint: 'fastest' is not one of throughput, latency")


def test_shape_flags() -> None:
    assert parse_shapes(["[1,128]"]) == [1, 128]
    assert parse_shapes(["input_ids=[1,8]", "attention_mask=[1,8]"]) == {"input_ids": [1, 8], "attention_mask": [1, 8]}
    with pytest.raises(UserError):
        parse_shapes(["input_ids=1,8"])
    with pytest.raises(UserError):
        parse_shapes(["[1,8]", "[1,9]"])


def test_labels_from_paths_are_unique() -> None:
    section = BenchmarkSection(models=["runs/fp32/model", "runs/int8/model/openvino_model.xml", "x/model.onnx",
                                       "runs/fp32/model"])  # fmt: skip
    assert labels_for(section, section.models) == ["fp32", "int8", "model", "fp32#2"]


def test_latency_summary_orders() -> None:
    summary = summarize_ms([5.0, 1.0, 3.0, 2.0, 4.0, 100.0])
    assert summary["min"] == 1.0 and summary["max"] == 100.0
    assert summary["p50"] == 3.5 and summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["max"]
    assert summary["mean"] == pytest.approx(115 / 6, abs=1e-3)


def fake_run(path: Path, throughput: dict[str, float]) -> Path:
    models = [
        {"label": label, "throughput_inferences_per_s": value, "throughput_items_per_s": value,
         "latency_ms": {"p50": 1000 / value, "p90": 1100 / value, "p99": 1200 / value},
         "first_inference_ms": 5.0, "compile_ms": 100.0, "ir_size_mb": 20.0}
        for label, value in throughput.items()
    ]  # fmt: skip
    run = {"stages": [{"stage": "benchmark", "details": {"mode": "static", "models": models}}]}
    path.write_text(json.dumps(run))
    return path


def test_compare_and_regression(tmp_path: Path) -> None:
    a = fake_run(tmp_path / "a.json", {"fp32": 100.0, "int8": 200.0})
    b = fake_run(tmp_path / "b.json", {"fp32": 110.0, "int8": 150.0})
    rows = {(r["model"], r["figure"]): r for r in compare_runs(a, b)["rows"]}
    assert rows[("fp32", "inferences/s")]["change_pct"] == 10.0 and rows[("fp32", "inferences/s")]["better"]
    assert rows[("int8", "inferences/s")]["change_pct"] == -25.0 and not rows[("int8", "inferences/s")]["better"]
    assert rows[("int8", "latency p50 ms")]["change_pct"] == pytest.approx(33.33, abs=0.01)
    worst, detail = regression_pct(a, "static", {"fp32": 90.0, "int8": 100.0})
    assert worst == 50.0 and detail["slowdown_pct_by_model"] == {"fp32": 10.0, "int8": 50.0}


def test_compare_cli_bad_inputs(tmp_path: Path) -> None:
    a = fake_run(tmp_path / "a.json", {"fp32": 100.0})
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"stages": [{"stage": "convert", "details": {}}]}))
    proc = run_cli("benchmark", "--compare", a, other)
    assert proc.returncode == 2 and "holds no benchmark results" in proc.stderr
    proc = run_cli("benchmark", "--compare", a, tmp_path / "missing.json")
    assert proc.returncode == 2 and "missing.json not found" in proc.stderr
    proc = run_cli("benchmark", "--compare", a, fake_run(tmp_path / "b.json", {"int8": 80.0}))
    assert proc.returncode == 0 and "| fp32 → int8 | inferences/s | 100 | 80 | -20.00% (worse) |" in proc.stdout


def test_no_model_is_exit_2(tmp_path: Path) -> None:
    proc = run_cli("benchmark", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "no model: pass -m MODEL" in proc.stderr


def static_record(label: str, throughput: float, size_mb: float) -> StaticRecord:
    return StaticRecord(
        label=label, xml=f"{label}/openvino_model.xml", precision="f32", input_shapes={"x": [1, 8]},
        input_data="random", batch=1, infer_requests=2, compiled_properties={"NUM_STREAMS": 2}, iterations=10,
        measured_s=1.0, throughput_inferences_per_s=throughput, throughput_items_per_s=throughput,
        latency_ms=Latency.of([1000 / throughput] * 3), first_inference_ms=5.0, compile_ms=100.0,
        rss_added_mb=1.0, ir=IRFacts(label, size_mb, {"f32": 100}, {}),
    )  # fmt: skip


def test_static_records_stay_typed_until_report() -> None:
    """Ratios, gates, tables and csv read attributes; report.plain gives run.json's field names."""
    records = [static_record("fp32", 100.0, 20.0), static_record("int8", 250.0, 5.0)]
    add_static_ratios(records, None)
    assert records[1].ratios.speedup == 2.5 and records[1].ratios.compression_rate == 4.0
    assert static_gate_values(records, None) == {"throughput": 250.0, "latency_ms": 4.0, "speedup": 2.5}
    assert static_tables(records, None, "CPU")[0].rows[1][7] == 2.5
    assert static_csv(records, None).splitlines()[2].startswith("int8,static,f32,1,250.0,")
    (row,) = [r for r in plain({"models": records})["models"] if r["label"] == "int8"]
    assert list(row) == [
        "label", "kind", "xml", "precision", "input_shapes", "input_data", "batch", "infer_requests", "streams",
        "threads", "compiled_properties", "iterations", "measured_s", "throughput_inferences_per_s",
        "throughput_items_per_s", "latency_ms", "first_inference_ms", "compile_ms", "rss_added_mb", "outputs",
        "output_bytes", "precision_choice", "profile_top_ops", "execution_graph", "source", "ir_size_mb",
        "weight_precisions", "ir_sha256", "ratios",
    ]  # fmt: skip
    assert row["streams"] == 2 and row["latency_ms"]["p50"] == 4.0 and row["ratios"]["speedup"] == 2.5
    json.dumps(plain({"models": records}))


def test_pending_input_is_labelled_by_its_stage(tmp_path: Path) -> None:
    ctx = StageContext(stage="benchmark", work_dir=tmp_path, input=StageInput(model=Pending("quantize"),
                                                                              source_model="org/minilm"))  # fmt: skip
    section = BenchmarkSection(models=["{model}", "{input}"])
    sources = model_sources(section, ctx)
    assert sources == ["org/minilm", Pending("quantize")]
    assert labels_for(section, sources) == ["minilm", "quantize"]
    pending = DatasetOutput(tmp_path / "OUT" / "dataset", pending=True)
    assert exists_or_pending(tmp_path / "OUT" / "dataset" / "train.jsonl", pending)
    assert not exists_or_pending(tmp_path / "OUT" / "dataset" / "train.jsonl", DatasetOutput(pending.path))
    assert not exists_or_pending(tmp_path / "elsewhere.jsonl", pending)


def test_model_against_input_outside_run_is_refused(tmp_path: Path) -> None:
    """`ovtool benchmark` on a {model}-vs-{input} recipe would measure the source against itself (labelled as the
    candidate): refused at --dry-run, pointing to `ovtool run`; the same recipe under `ovtool run` validates."""
    recipe = ROOT / "recipes" / "benchmark-minilm-fp32-int8.yaml"
    proc = run_cli("benchmark", recipe, "-o", tmp_path / "b", "--dry-run")
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: benchmark.models: {input} is `model:` itself") and "ovtool run" in line
    assert run_cli("run", recipe, "-o", tmp_path / "r", "--dry-run").returncode == 0
    ctx = StageContext(stage="benchmark", work_dir=tmp_path, input=StageInput(model="a/b", source_model="a/b"))
    assert model_sources(BenchmarkSection(models=["{model}", "{model}"]), ctx) == ["a/b", "a/b"]  # asked for


def test_interleaved_rounds_alternate_the_order() -> None:
    """A B, B A, A B…: no model is always the one measured right after a switch."""
    from ovtool.backends.openvino.bench_static import measure_interleaved

    calls: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def warm_up(self, count: int) -> None:
            calls.append(f"warm {self.name}")

        def run_part(self, seconds: float | None, iterations: int | None) -> None:
            calls.append(self.name)

    measure_interleaved([Recorder("a"), Recorder("b")], BenchmarkSection(iterations=8, rounds=4))
    assert calls == ["warm a", "warm b", "a", "b", "b", "a", "a", "b", "b", "a"]
