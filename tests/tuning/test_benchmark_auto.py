"""`benchmark --precision auto` of a static IR: `ovtool tune`'s stored choice when there is one, else the rule.

The NudeNet detector (ONNX → IR in about a second) is tuned for real with a small budget; a second IR gets a
choice written through the store's own API, so the test knows which settings must reach compile_model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import NUDENET_ONNX, run_cli

SHAPE = ("--shape", "[1,3,320,320]")


@pytest.fixture(scope="module")
def nudenet_ir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nudenet") / "out"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "model"


def bench(ir: Path, out: Path, env: dict[str, str], *args: str) -> dict:
    proc = run_cli("benchmark", "-m", ir, *SHAPE, "-n", "8", "--no-cache", "-o", out, *args, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "run.json").read_text())["stages"][0]["details"]["models"][0]


@pytest.mark.slow
def test_auto_uses_the_stored_tuning_else_the_rule(nudenet_ir: Path, tmp_path: Path) -> None:
    env = {"OVTOOL_CACHE": str(tmp_path / "cache")}
    before = bench(nudenet_ir, tmp_path / "b0", env, "--precision", "auto")
    assert before["precision_choice"]["source"] == "rule"  # nothing stored: the device default, no measurement
    assert before["precision_choice"]["inference_precision"] == "device default"
    assert not (tmp_path / "cache" / "tuning").exists()

    proc = run_cli("tune", "-m", nudenet_ir, *SHAPE, "--seconds", "0.3", "--goal", "throughput", "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tuned = json.loads(proc.stdout)
    assert tuned["goal"] == "throughput" and tuned["kind"] == "static"
    settings = tuned["settings"]

    after = bench(nudenet_ir, tmp_path / "b1", env, "--precision", "auto")
    choice = after["precision_choice"]
    assert choice["source"] == "stored"
    assert choice["inference_precision"] == settings["INFERENCE_PRECISION_HINT"] == after["precision"]
    compiled = after["compiled_properties"]  # the goals match (throughput): the hint and streams apply too
    assert compiled["PERFORMANCE_HINT"] == settings["PERFORMANCE_HINT"]
    if "NUM_STREAMS" in settings:
        assert compiled["NUM_STREAMS"] == settings["NUM_STREAMS"]

    asked = bench(nudenet_ir, tmp_path / "b2", env, "--precision", "f32")
    assert asked["precision_choice"]["source"] == "asked" and asked["precision"] == "f32"


def _store(ir: Path, settings: dict, goal: str, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVTOOL_CACHE", str(cache))
    from ovtool.tuning import store

    store.save(store.key_for(ir, "CPU"), "static", settings, [], "test CPU", goal=goal)


@pytest.mark.slow
def test_stored_settings_reach_compile_and_the_users_win(nudenet_ir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """f32 (not the bf16 default of this AVX-512 BF16 CPU) and 1 stream under the throughput hint (2 by default
    on 2 cores): only the stored choice sets these here."""
    cache = tmp_path / "cache"
    settings = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 1}
    _store(nudenet_ir, settings, "throughput", cache, monkeypatch)
    env = {"OVTOOL_CACHE": str(cache)}
    got = bench(nudenet_ir, tmp_path / "b0", env, "--precision", "auto")
    assert got["precision"] == "f32" and got["compiled_properties"]["NUM_STREAMS"] == 1
    assert got["precision_choice"]["properties"] == {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 1}

    # a latency benchmark: the throughput tuning's hint/streams do not apply, its precision does
    lat = bench(nudenet_ir, tmp_path / "b1", env, "--precision", "auto", "--hint", "latency")
    assert lat["precision"] == "f32" and lat["compiled_properties"]["PERFORMANCE_HINT"] == "LATENCY"
    assert lat["precision_choice"]["properties"] == {} and "measures latency" in lat["precision_choice"]["why"]

    # what the user sets wins over the stored choice
    own = bench(nudenet_ir, tmp_path / "b2", env, "--precision", "auto", "--set", "benchmark.streams=2")
    assert own["compiled_properties"]["NUM_STREAMS"] == 2 and own["precision"] == "f32"

    default = bench(nudenet_ir, tmp_path / "b3", env)  # no --precision: the stored choice is not used
    assert default["precision_choice"]["source"] == "rule" and default["precision_choice"]["properties"] == {}


STORED = {"INFERENCE_PRECISION_HINT": "f16", "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 3,
          "INFERENCE_NUM_THREADS": 1}  # fmt: skip


@pytest.mark.parametrize(("fields", "tuned_for", "expected"), [
    ({}, "throughput", STORED),
    ({"hint": "throughput"}, "throughput", {k: v for k, v in STORED.items() if k != "PERFORMANCE_HINT"}),
    ({"streams": 2, "config": {"INFERENCE_NUM_THREADS": 2}}, "throughput",
     {"INFERENCE_PRECISION_HINT": "f16", "PERFORMANCE_HINT": "THROUGHPUT"}),
    ({"hint": "latency"}, "throughput", {"INFERENCE_PRECISION_HINT": "f16"}),
    ({"hint": "cumulative_throughput"}, "throughput", {"INFERENCE_PRECISION_HINT": "f16"}),
    ({}, None, {"INFERENCE_PRECISION_HINT": "f16"}),  # a record from before goals were stored
])  # fmt: skip
def test_which_stored_settings_apply(fields: dict, tuned_for: str | None, expected: dict) -> None:
    from ovtool.recipe.sections.benchmark import BenchmarkSection
    from ovtool.stages.benchmark_choice import _from_stored

    choice = _from_stored(BenchmarkSection(precision="auto", **fields), STORED, tuned_for)
    assert choice.source == "stored" and choice.properties == expected


def test_asked_precision_never_reads_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ovtool.recipe.sections.benchmark import BenchmarkSection
    from ovtool.stages.benchmark_choice import static_choice

    monkeypatch.setenv("OVTOOL_CACHE", str(tmp_path / "cache"))
    xml = tmp_path / "missing" / "openvino_model.xml"
    raw = static_choice(BenchmarkSection(precision="auto", config={"INFERENCE_PRECISION_HINT": "bf16"}), xml)
    assert (raw.source, raw.record()["inference_precision"]) == ("asked", "bf16")
    assert static_choice(BenchmarkSection(precision="f16"), xml).record()["inference_precision"] == "f16"
    assert static_choice(BenchmarkSection(precision="auto"), xml).source == "rule"  # no IR, nothing stored
    assert not (tmp_path / "cache" / "tuning").exists()


@pytest.mark.slow
def test_llm_auto_takes_the_stored_llm_tuning_and_records_it(smollm2_fp16_ir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """An LLM: the stored precision *and* its KV-cache precision reach the pipeline, run.json says "stored";
    `benchmark.config` wins over a stored property; without --precision the device default ("rule")."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("OVTOOL_CACHE", str(cache))
    from ovtool.tuning import store

    settings = {"INFERENCE_PRECISION_HINT": "f32", "KV_CACHE_PRECISION": "f16"}
    store.save(store.key_for(smollm2_fp16_ir, "CPU"), "llm", settings, [], "test CPU")
    env = {"OVTOOL_CACHE": str(cache)}

    def llm_bench(out: Path, *args: str) -> dict:
        proc = run_cli("benchmark", "-m", smollm2_fp16_ir, "--set", "benchmark.prompt_lengths=[16]",
                       "--set", "benchmark.output_lengths=[8]", "--set", "benchmark.repeats=1",
                       "--set", "benchmark.warmup=0", "--no-cache", "-o", out, *args, env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads((out / "run.json").read_text())["stages"][0]["details"]["models"][0]

    got = llm_bench(tmp_path / "b0", "--precision", "auto")
    assert got["precision"] == "f32"
    assert got["precision_choice"]["source"] == "stored"
    assert got["precision_choice"]["properties"] == {"KV_CACHE_PRECISION": "f16"}

    own = llm_bench(tmp_path / "b1", "--precision", "auto", "--set", "benchmark.config={KV_CACHE_PRECISION: u8}")
    assert own["precision_choice"]["source"] == "stored" and own["precision_choice"]["properties"] == {}

    default = llm_bench(tmp_path / "b2")
    assert default["precision_choice"]["source"] == "rule"
