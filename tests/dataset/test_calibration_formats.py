"""Quantize reads calibration images from annotated Datumaro formats, not only plain image folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ovtool.recipe.sections.data import DataSpec
from tests.conftest import NUDENET_ONNX, run_cli


@pytest.mark.slow
def test_calibration_images_from_imagenet_and_voc(fmnist_imagenet: Path, voc_dir: Path) -> None:
    from ovtool.data.images import load_images

    val = load_images(DataSpec(kind="image", path=str(fmnist_imagenet / "dataset"), format="imagenet_with_subset_dirs",
                               split="val"), seed=0)  # fmt: skip
    assert len(val.images) == 100  # 20% of the 500 converted
    assert all(img.shape == (28, 28, 3) for img in val.images)
    assert "tshirt_top" in val.label_names and all(label is not None for label in val.labels)
    voc = load_images(DataSpec(kind="image", path=str(voc_dir), format="voc"), seed=0)
    assert voc.format == "voc" and sorted(voc.ids) == ["2011_000003", "2011_000006", "2011_000025"]


def test_an_unreadable_image_folder_names_the_item_and_the_reason(tmp_path: Path) -> None:
    """Datumaro wraps the reason ("Failed to import dataset 'imagenet'"); the error gives the reason itself.

    Here a one-letter label: Datumaro takes the item id 'b:0' for a drive-qualified path."""
    from PIL import Image

    from ovtool.data.images import load_images
    from ovtool.errors import UserError

    for i, label in enumerate("ab"):
        (tmp_path / label).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / label / f"{i}.png")
    with pytest.raises(UserError) as error:
        load_images(DataSpec(kind="image", path=str(tmp_path)), seed=0)
    message = str(error.value)
    assert message.startswith(f"Datumaro cannot read {tmp_path} as imagenet: ")
    assert "Failed to import dataset" not in message
    assert ":1'" in message or ":0'" in message, message  # the item id it refused


@pytest.mark.slow
def test_nudenet_int8_calibrated_on_voc_format(voc_dir: Path, tmp_path: Path) -> None:
    """The real detector, calibrated on the VOC dataset read as VOC (annotations and all) through the CLI."""
    letterbox = {"resize": [320, 320], "letterbox": True}
    recipe = {
        "model": str(NUDENET_ONNX), "output": str(tmp_path / "out"),
        "quantize": {
            # two photos calibrate; the third is held out for the quality report (never both roles)
            "calibration": {"kind": "image", "path": str(voc_dir), "format": "voc", "samples": 2,
                            "preprocess": letterbox},
            "ignored_scope": {"patterns": [r"/model\.22/.*"]},
            "quality": {"speed_seconds": 0},
        },
    }  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    proc = run_cli("quantize", path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stage = json.loads((tmp_path / "out" / "run.json").read_text())["stages"][0]
    assert stage["details"]["calibration"]["format"] == "voc"
    assert stage["details"]["calibration"]["samples"] == 2 and stage["details"]["evaluation"]["samples"] == 1
    assert stage["metrics"]["output_similarity"]["value"] > 0.98
