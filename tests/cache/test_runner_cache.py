"""`ovtool run` through the stage cache, on the real NudeNet ONNX (convert → INT8 weights → measure):
hits publish the same bytes, changed sections/inputs miss, --no-cache, --from, resume after a failed last
stage, a corrupt entry recomputed, measurements re-run unless `cache.measurements`, concurrent runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NUDENET_ONNX, run_cli

IMAGES = Path(".venv/lib/python3.11/site-packages/sklearn/datasets/images")
MEASURE_STEP = "outputs on 2 held-out samples (f32)"


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A recipe over copies of the model and the evaluation images (so a test may change them) + its cache."""
    root = Path(__file__).resolve().parents[2]
    images = tmp_path / "images"
    shutil.copytree(root / IMAGES, images)
    model = tmp_path / "320n.onnx"
    shutil.copy2(NUDENET_ONNX, model)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"model: {model}\n"
        "convert: {}\n"
        "quantize:\n"
        "  weights: {mode: int8_asym}\n"
        f"  evaluation: {{kind: image, path: {images}, format: image_folder, samples: 2,\n"
        "               preprocess: {resize: [320, 320], letterbox: true}}\n"
        "  quality: {speed_seconds: 0}\n"
    )
    return {"recipe": recipe, "cache": tmp_path / "cache", "model": model, "images": images, "tmp": tmp_path}


def ovtool_run(s: dict[str, Path], out: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = run_cli("run", s["recipe"], "-o", s["tmp"] / out, *args, env={"OVTOOL_CACHE": str(s["cache"])})
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def stages(s: dict[str, Path], out: str) -> dict[str, dict[str, Any]]:
    data = json.loads((s["tmp"] / out / "run.json").read_text())
    return {st["stage"]: st for st in data["stages"]}


def status(s: dict[str, Path], out: str) -> dict[str, str]:
    return {name: st["cache"]["status"] for name, st in stages(s, out).items()}


def steps(stage: dict[str, Any]) -> list[str]:
    return [step["name"] for step in stage["steps"]]


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_second_run_hits_convert_and_quantize_and_publishes_the_same_ir(setup: dict[str, Path]) -> None:
    first = ovtool_run(setup, "a")
    assert "cache hit" not in first.stderr
    second = ovtool_run(setup, "b")
    assert status(setup, "a") == {"convert": "miss", "quantize": "miss"}
    assert status(setup, "b") == {"convert": "hit", "quantize": "hit"}
    a, b = stages(setup, "a"), stages(setup, "b")
    assert a["convert"]["cache"]["key"] == b["convert"]["cache"]["key"]
    assert f"convert: cache hit (key {a['convert']['cache']['key'][:12]}…)" in second.stderr
    for part in ("convert/model", "quantize/model"):
        for name in ("openvino_model.xml", "openvino_model.bin"):
            path = setup["tmp"] / "b" / part / name
            assert not path.is_symlink()  # hard links or copies: the run folder stays self-contained
            assert path.read_bytes() == (setup["tmp"] / "a" / part / name).read_bytes()
    # no conversion and no compression the second time, but the quality measurement is taken again
    assert steps(b["convert"]) == ["restore from the stage cache"]
    assert "nncf.compress_weights int8_asym" in steps(a["quantize"])
    assert "nncf.compress_weights int8_asym" not in steps(b["quantize"])
    assert MEASURE_STEP in steps(b["quantize"]) and b["quantize"]["cache"]["measurement"] == "rerun"
    assert b["quantize"]["metrics"]["output_similarity"] == a["quantize"]["metrics"]["output_similarity"]
    assert "Stage cache: hit" in (setup["tmp"] / "b" / "report.md").read_text()


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_changed_section_model_file_or_data_misses(setup: dict[str, Path]) -> None:
    ovtool_run(setup, "a")
    ovtool_run(setup, "mode", "--set", "quantize.weights.mode=int8_sym")
    assert status(setup, "mode") == {"convert": "hit", "quantize": "miss"}
    (setup["images"] / "china.jpg").unlink()  # the evaluation data the section reads changed
    ovtool_run(setup, "data")
    assert status(setup, "data") == {"convert": "hit", "quantize": "miss"}
    with setup["model"].open("ab") as fh:  # ModelProto.doc_string (field 6) appended: a valid, different file
        fh.write(b"\x32\x05hello")
    ovtool_run(setup, "model")
    assert status(setup, "model") == {"convert": "miss", "quantize": "miss"}  # the chain: a new convert key


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_no_cache_reads_and_writes_nothing(setup: dict[str, Path]) -> None:
    ovtool_run(setup, "a", "--no-cache")
    assert status(setup, "a") == {"convert": "off", "quantize": "off"}
    assert not list(setup["cache"].glob("entries/*/*"))
    ovtool_run(setup, "b")
    ovtool_run(setup, "c", "--no-cache")
    assert status(setup, "c") == {"convert": "off", "quantize": "off"}
    assert "cache hit" not in ovtool_run(setup, "d", "--no-cache").stderr


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_from_recomputes_that_stage_and_later_ones(setup: dict[str, Path]) -> None:
    ovtool_run(setup, "a")
    ovtool_run(setup, "b", "--from", "quantize")
    b = stages(setup, "b")
    assert status(setup, "b") == {"convert": "hit", "quantize": "miss"}
    assert b["quantize"]["cache"]["reason"] == "recomputed (--from)"
    assert "nncf.compress_weights int8_asym" in steps(b["quantize"])
    ovtool_run(setup, "c", "--from", "convert")
    assert status(setup, "c") == {"convert": "miss", "quantize": "miss"}
    bad = ovtool_run(setup, "d", "--from", "benchmark", ok=False)
    assert bad.returncode == 2 and "--from benchmark: this recipe runs convert, quantize" in bad.stderr


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_a_run_failing_in_its_last_stage_resumes_there(setup: dict[str, Path]) -> None:
    """The quantized IR has dynamic shapes, which only the benchmark stage finds (its input does not exist
    at preflight): the run fails after convert and quantize finished. The fixed re-run starts at benchmark."""
    with setup["recipe"].open("a") as fh:
        fh.write("benchmark: {iterations: 3, warmup: 1, rounds: 1}\n")
    failed = ovtool_run(setup, "a", ok=False)
    assert failed.returncode == 2 and "dynamic shape" in failed.stderr
    assert not (setup["tmp"] / "a").exists()  # nothing published …
    resumed = ovtool_run(setup, "a", "--set", "benchmark.shapes=[1,3,320,320]")  # … but the stages were kept
    assert "convert: cache hit" in resumed.stderr and "quantize: cache hit" in resumed.stderr
    assert status(setup, "a") == {"convert": "hit", "quantize": "hit", "benchmark": "off"}


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_a_corrupt_entry_is_recomputed_never_used(setup: dict[str, Path]) -> None:
    ovtool_run(setup, "a")
    key = stages(setup, "a")["convert"]["cache"]["key"]
    stored = setup["cache"] / "entries" / key[:2] / key / "files" / "model" / "openvino_model.xml"
    text = stored.read_text()
    stored.unlink()  # not in place: the first run's OUT shares the inode (hard link)
    stored.write_text(text.replace("<net ", "<net  ", 1))
    again = ovtool_run(setup, "b")
    assert "corrupt" in again.stderr
    assert status(setup, "b") == {"convert": "miss", "quantize": "hit"}  # same bytes → same quantize key
    model = setup["tmp"] / "b" / "convert" / "model" / "openvino_model.xml"
    assert model.read_text() == text
    ovtool_run(setup, "c")
    assert status(setup, "c")["convert"] == "hit"  # the recomputed entry was stored


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_measurements_are_cached_only_when_the_recipe_says_so(setup: dict[str, Path]) -> None:
    ovtool_run(setup, "a", "--set", "cache.measurements=true")
    ovtool_run(setup, "b", "--set", "cache.measurements=true")
    a, b = stages(setup, "a"), stages(setup, "b")
    assert a["quantize"]["cache"]["measurement"] == "miss" and b["quantize"]["cache"]["measurement"] == "hit"
    assert MEASURE_STEP not in steps(b["quantize"])
    assert b["quantize"]["metrics"] == a["quantize"]["metrics"]
    ovtool_run(setup, "c")  # measurements: false (the default) measures again
    c = stages(setup, "c")
    assert c["quantize"]["cache"]["status"] == "hit" and MEASURE_STEP in steps(c["quantize"])


@pytest.mark.slow  # the real CLI two or more times (5-10 s a run)
def test_concurrent_runs_compute_each_stage_once(setup: dict[str, Path]) -> None:
    """Two runs start together on an empty cache: the second waits on the per-key lock, then hits."""
    env = {**os.environ, "OVTOOL_CACHE": str(setup["cache"])}
    exe = Path(sys.executable).with_name("ovtool")
    argv = [str(exe), "run", str(setup["recipe"]), "-o"]
    procs = [subprocess.Popen([*argv, str(setup["tmp"] / out)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for out in ("a", "b")]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    statuses = [status(setup, out) for out in ("a", "b")]
    for stage in ("convert", "quantize"):
        assert sorted(s[stage] for s in statuses) == ["hit", "miss"]


def test_from_offers_the_stages_in_run_order() -> None:
    from ovtool.cli.run import STAGE_NAMES
    from ovtool.recipe.schema import STAGE_ORDER

    assert STAGE_NAMES == STAGE_ORDER
