"""Fast checks of the pieces: image preprocessing, Datumaro reading, IR channel parsing, held-out splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ovtool.recipe.sections.data import DataSpec, ImagePreprocess
from tests.conftest import BBC_DIR
from tests.quantize.conftest import VOC_IMAGES


def test_letterbox_layout_channel_order_and_normalisation() -> None:
    from ovtool.data.images import preprocess

    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[..., 0] = 255  # pure red (RGB)
    prep = ImagePreprocess(resize=[64, 64], letterbox=True, pad_value=0, channel_order="BGR", mean=[0, 0, 0.5],
                           std=[1, 1, 0.5])  # fmt: skip
    out = preprocess(image, prep, None)
    assert out.shape == (1, 3, 64, 64) and out.dtype == np.float32
    # 100x200 fits as 32x64, centred: rows 16..47 hold the image, the rest is padding
    assert out[0, 2, 32, 32] == 1.0  # red is the last channel in BGR, (1 - 0.5) / 0.5
    assert out[0, 2, 0, 32] == -1.0  # padding 0 → (0 - 0.5) / 0.5
    assert out[0, 0, 32, 32] == 0.0
    nhwc = preprocess(image, ImagePreprocess(resize=32, crop=32, layout="NHWC"), None)
    assert nhwc.shape == (1, 32, 32, 3) and nhwc.max() == 1.0


def test_images_read_through_datumaro(tmp_path: Path) -> None:
    from ovtool.data.images import load_images

    samples = load_images(DataSpec(kind="image", path=str(VOC_IMAGES)), seed=0)
    assert samples.format == "image_dir" and len(samples.images) == 3
    assert all(img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8 for img in samples.images)
    assert sorted(samples.ids) == ["2011_000003", "2011_000006", "2011_000025"]


def test_matmul_channels_from_the_ir_xml(tiny_matmul_ir: Path) -> None:
    from ovtool.backends.nncf_weights import matmul_channels

    assert sorted(matmul_channels(tiny_matmul_ir / "openvino_model.xml").values()) == [80, 96]


def test_bbc_text_pool_keeps_splits_apart() -> None:
    from ovtool.data.calibration import _text_pool

    train, train_labels = _text_pool(DataSpec(path=str(BBC_DIR), split="train"), seed=0)
    test, test_labels = _text_pool(DataSpec(path=str(BBC_DIR), split="test"), seed=0)
    assert len(train) == 1780 and len(test) == 222
    assert not set(train) & set(test)
    assert set(test_labels or []) == {"business", "entertainment", "politics", "sports", "tech"}
    assert len(train_labels or []) == len(train)
