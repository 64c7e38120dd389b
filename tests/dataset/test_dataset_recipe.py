"""The `dataset:` recipe section: validation, `ovtool run`, and references from later stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovtool.errors import RecipeError, UserError
from ovtool.recipe.loader import load_recipe
from tests.conftest import ROOT, run_cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("dataset: {verb: convert, path: x}", "needs output_format"),
        ("dataset: {verb: filter, path: x}", "needs expression"),
        ("dataset: {verb: encrypt, path: x}", "needs key_file"),
        ("dataset: {verb: decrypt, path: x, key_env: A, key_file: b}", "not both"),
        ("dataset: {verb: split, path: x, ratios: {a: 0.5, b: 0.6}}", "sum to 1"),
        ("dataset: {verb: stats}", "path is required"),
        ("dataset: {verb: stats, path: x, input: y}", "not `input`"),
        ("dataset: {verb: rename, path: x}", "dataset.verb"),
        ("dataset: {verb: convert, path: x, output_format: coco, kind: text}", "text data supports"),
        ("dataset: {verb: stats, path: x, key: abc}", "unknown key"),
    ],
)
def test_section_problems(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(write(tmp_path, body + "\n"))
    assert needle in str(info.value)


def test_run_cvat_to_yolo_ultralytics_recipe(voc_dir: Path, tmp_path: Path) -> None:
    """The shipped YOLOv8 flow recipe on a real CVAT export (made from the VOC sample)."""
    cvat = tmp_path / "cvat"
    assert run_cli("dataset", "convert", voc_dir, "--to", "cvat", "-o", cvat).returncode == 0
    out = tmp_path / "run"
    recipe = ROOT / "recipes" / "dataset-cvat-to-yolo-ultralytics.yaml"
    proc = run_cli("run", recipe, "--set", f"dataset.path={cvat / 'dataset'}", "-o", out)
    assert proc.returncode == 0, proc.stderr
    data = out / "dataset" / "dataset"
    assert (data / "data.yaml").is_file()
    labels = list((data / "labels").rglob("*.txt"))
    images = list((data / "images").rglob("*.jpg"))
    assert len(labels) == len(images) == 3
    assert {p.parent.name for p in images} <= {"train", "val"}
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "run" and record["stages"][0]["details"]["format"] == "cvat"
    assert "verb: convert" in (out / "recipe.yaml").read_text()


def test_dataset_reference_resolves_for_later_stages(tmp_path: Path) -> None:
    from ovtool.stages.dataset_refs import resolve_dataset_refs

    recipe = load_recipe(write(tmp_path, "dataset: {verb: split, path: x, ratios: {train: 1.0}}\n"
                               "quantize:\n  calibration: {path: '@dataset/train.jsonl'}\n")).recipe  # fmt: skip
    resolved = resolve_dataset_refs(recipe, tmp_path / "OUT" / "dataset")
    assert resolved.quantize.calibration.path == str(tmp_path / "OUT" / "dataset" / "train.jsonl")
    assert recipe.quantize.calibration.path == "@dataset/train.jsonl"  # the recipe itself keeps the reference
    assert resolved.dataset is recipe.dataset
    with pytest.raises(UserError, match="no `dataset:` section"):
        resolve_dataset_refs(recipe, None)
    with pytest.raises(UserError, match="outside"):
        bad = load_recipe(write(tmp_path, "quantize:\n  calibration: {path: '@dataset/../x'}\n")).recipe
        resolve_dataset_refs(bad, tmp_path)
