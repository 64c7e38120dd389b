"""An ovtool OUT folder is accepted wherever a model or a dataset is (OUT/model, OUT/dataset), through
the real CLI on real assets; with -v the run says what it resolved the OUT to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ASSETS, NUDENET_ONNX, run_cli

VOC = ASSETS / "voc_sample" / "data_dataset_voc"
VOC_IMAGES = VOC / "JPEGImages"


def stage(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())["stages"][0]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def nudenet_out(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    """NudeNet ONNX converted once: the OUT folder (run.json, report.md, model/)."""
    out = tmp_path_factory.mktemp("nudenet") / "out"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.slow
def test_benchmark_reads_an_out(nudenet_out: Path, tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    proc = run_cli("benchmark", "-m", nudenet_out, "--shape", "[1,3,320,320]", "-n", "5", "--set", "benchmark.warmup=1",
                   "-o", bench, "-v")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{nudenet_out} is an ovtool output folder: reading its model {nudenet_out / 'model'}" in proc.stderr
    record = stage(bench)
    assert record["details"]["models"][0]["xml"] == str(nudenet_out / "model" / "openvino_model.xml")


@pytest.mark.slow
def test_quantize_reads_an_out(nudenet_out: Path, tmp_path: Path) -> None:
    out = tmp_path / "q"
    recipe = tmp_path / "q.yaml"
    recipe.write_text(
        "quantize:\n"
        f"  calibration: {{kind: image, path: {VOC_IMAGES}, samples: 2,\n"
        "                preprocess: {resize: [320, 320], letterbox: true}}\n"
        "  subset_size: 2\n"
        "  quality: {speed_seconds: 0}\n"
    )
    proc = run_cli("quantize", recipe, "-m", nudenet_out, "-o", out, "-v")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"reading its model {nudenet_out / 'model'}" in proc.stderr
    assert stage(out)["input"] == str(nudenet_out / "model")
    assert (out / "model" / "openvino_model.xml").exists()


def test_out_without_a_model_is_invalid_input(tmp_path: Path) -> None:
    """A dataset OUT given as a model: exit 2, naming what the OUT holds."""
    key = tmp_path / "k.key"
    enc = tmp_path / "enc"
    assert run_cli("dataset", "encrypt", VOC, "--key-file", key, "-o", enc).returncode == 0
    proc = run_cli("benchmark", "-m", enc, "-o", tmp_path / "bench", "--dry-run")
    assert proc.returncode == 2
    assert "is an ovtool output folder without a model/ folder" in proc.stderr


def test_decrypt_reads_what_encrypt_wrote(tmp_path: Path, assets: Path) -> None:
    """`dataset decrypt OUT` of `dataset encrypt -o OUT` (the path users have: no /dataset to add)."""
    key = tmp_path / "k.key"
    enc, dec = tmp_path / "enc", tmp_path / "dec"
    first = run_cli("dataset", "encrypt", VOC, "--key-file", key, "-o", enc)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_cli("dataset", "decrypt", enc, "--key-file", key, "-o", dec, "-v")
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"{enc} is an ovtool output folder: reading its dataset {enc / 'dataset'}" in second.stderr
    assert tree(dec / "dataset") == tree(VOC)
    # and without -v nothing is said about it
    quiet = run_cli("dataset", "decrypt", enc, "--key-file", key, "-o", tmp_path / "dec2")
    assert quiet.returncode == 0 and "ovtool output folder" not in quiet.stderr


@pytest.mark.slow
def test_generate_reads_an_out(smollm2_fp16_ir: Path) -> None:
    out = smollm2_fp16_ir.parent  # the OUT `ovtool convert` published; the fixture hands its model/
    proc = run_cli("generate", "-m", out, "-p", "Hello", "--max-new-tokens", "4", "-v")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"reading its model {smollm2_fp16_ir}" in proc.stderr
    assert proc.stdout.strip()
