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


def test_convert_reads_an_out_model_not_the_out(nudenet_out: Path, tmp_path: Path) -> None:
    out = tmp_path / "c"
    proc = run_cli("convert", "-m", nudenet_out, "-o", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (out / "model").iterdir()) == ["openvino_model.bin", "openvino_model.xml"]


def test_section_fields_naming_an_out_are_resolved(tmp_path: Path) -> None:
    """Every model/dataset field of a section (dataset_refs.OUT_FIELDS) reads OUT/model or OUT/dataset;
    placeholders, `@dataset` references and plain paths are left alone."""
    from ovtool.out_policy import write_marker
    from ovtool.recipe.sections.benchmark import BenchmarkSection
    from ovtool.recipe.sections.dataset import DatasetSection
    from ovtool.recipe.sections.generate import GenerateSection
    from ovtool.stages.dataset_refs import resolve_dataset_refs

    out = tmp_path / "out"
    for part in ("model", "dataset"):
        (out / part).mkdir(parents=True)
    write_marker(out)
    plain = str(tmp_path)
    bench = BenchmarkSection(models=["{model}", str(out), plain], data={"path": str(out)})
    resolved = resolve_dataset_refs(bench, None)
    assert resolved.models == ["{model}", str(out / "model"), plain]
    assert resolved.data.path == str(out / "dataset") and bench.models[1] == str(out)  # the recipe is kept
    merge = DatasetSection(verb="merge", path=str(out), merge_with=[str(out), plain])
    resolved_merge = resolve_dataset_refs(merge, None)
    assert resolved_merge.path == str(out / "dataset")
    assert resolved_merge.merge_with == [str(out / "dataset"), plain]
    gen = GenerateSection(speculative={"draft": str(out)})
    assert resolve_dataset_refs(gen, None).speculative.draft == str(out / "model")
    ref = DatasetSection(verb="stats", path="@dataset/train")
    assert resolve_dataset_refs(ref, tmp_path / "ds").path == str(tmp_path / "ds" / "train")


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
