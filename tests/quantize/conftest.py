"""Quantize fixtures: a tiny IR with known channel counts, small real data files, real photos."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ASSETS

VOC_IMAGES = ASSETS / "voc_sample" / "data_dataset_voc" / "JPEGImages"


@pytest.fixture(scope="session")
def tiny_matmul_ir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """x[?, 96] → MatMul(96→80) → ReLU → MatMul(80→64): input channels 96 and 80 (group 64 divides neither)."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    x = ops.parameter([-1, 96], np.float32, name="x")
    hidden = ops.relu(ops.matmul(x, ops.constant(rng.standard_normal((80, 96)).astype(np.float32)), False, True))
    out = ops.matmul(hidden, ops.constant(rng.standard_normal((64, 80)).astype(np.float32)), False, True)
    folder = tmp_path_factory.mktemp("tiny") / "model"
    folder.mkdir()
    ov.save_model(ov.Model([out], [x], "tiny"), folder / "openvino_model.xml")
    return folder


@pytest.fixture(scope="session")
def sklearn_photos() -> Path:
    """scikit-learn's two sample photos (china.jpg, flower.jpg): real held-out images."""
    import sklearn

    return Path(sklearn.__file__).parent / "datasets" / "images"


@pytest.fixture()
def voc_images(tmp_path: Path) -> Path:
    """A private copy of the VOC sample's three photos (tests may add files beside them)."""
    folder = tmp_path / "voc"
    shutil.copytree(VOC_IMAGES, folder)
    return folder
