"""Fast checks of the pieces: image preprocessing, Datumaro reading, IR channel parsing, held-out splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    from ovtool.backends.nncf.nncf_weights import matmul_channels

    assert sorted(matmul_channels(tiny_matmul_ir / "openvino_model.xml").values()) == [80, 96]


def test_bbc_text_pool_keeps_splits_apart() -> None:
    from ovtool.data.calibration import _text_pool

    train, train_labels = _text_pool(DataSpec(path=str(BBC_DIR), split="train"), seed=0)
    test, test_labels = _text_pool(DataSpec(path=str(BBC_DIR), split="test"), seed=0)
    assert len(train) == 1780 and len(test) == 222
    assert not set(train) & set(test)
    assert set(test_labels or []) == {"business", "entertainment", "politics", "sports", "tech"}
    assert len(train_labels or []) == len(train)


class _Held:
    """A stand-in held-out sample set: its length and `info` are all the report reads."""

    def __init__(self) -> None:
        self.info = {"path": "data", "samples": 4, "token_chunks": [[1]]}

    def __len__(self) -> int:
        return 4


def _outcome(quality: Any, facts: Any) -> Any:
    """A QuantizeOutcome with stand-in data and IR descriptions (no model involved)."""
    from types import SimpleNamespace

    from ovtool.stages.quantize_report import LlmQuality, QuantizeOutcome

    ir = {"size_bytes": 2**20, "weight_elements": 10, "weight_precisions": {"f32": 10}, "inputs": [], "outputs": []}
    small = ir | {"size_bytes": 2**18, "weight_precisions": {"i8": 10}}
    io = SimpleNamespace(kind="llm" if isinstance(quality, LlmQuality) else "other")
    return QuantizeOutcome(io, None, _Held(), facts, quality, ir, small)


def test_quantize_report_serialises_typed_results_once() -> None:
    """Typed results reach run.json's `details` in the shape it always had (keys readers rely on)."""
    from ovtool.backends.nncf.nncf_ptq import LayerRange
    from ovtool.backends.openvino.quality import GenerationAgreement, OutputComparison
    from ovtool.recipe.sections.quantize import QuantizeSection
    from ovtool.results import StageResult
    from ovtool.stages.quantize_report import (
        CompressionFacts,
        LlmQuality,
        OutputQuality,
        SpeedComparison,
        Throughput,
        TokenRates,
        fill_report,
    )

    speed = SpeedComparison(Throughput(100.0, "bf16", 4), Throughput(150.0, "bf16", 4), Throughput(50.0, "f32", 4))
    outputs = OutputQuality(OutputComparison(0.99, 0.9, 0.8, 0.75, 0.7, 0.65), speed)
    facts = CompressionFacts("default", [LayerRange("conv", "Convolution", -1.0, 3.0)], 2.0, ["MatMul_1"])
    result = StageResult(stage="quantize")
    section = QuantizeSection.model_validate({"weights": {"mode": "int8_asym"}, "quality": {"speed_baseline": "f32"}})
    fill_report(result, section, _outcome(outputs, facts))
    details = result.details
    assert details["quality"]["outputs"]["accuracy_compressed"] == 0.75
    assert details["quality"]["speed_original_f32"] == {"fps": 50.0, "precision": "f32", "requests": 4}
    assert details["auto_ignored"] == [{"name": "conv", "type": "Convolution", "min": -1.0, "max": 3.0, "range": 4.0}]
    assert details["reverted_to_float"] == ["MatMul_1"] and details["activation_range_median"] == 2.0
    assert details["evaluation"] == {"path": "data", "samples": 4}
    assert result.gate_values["speedup"] == 3.0 and result.metrics["speedup_vs_default"].value == 1.5
    assert round(result.gate_values["accuracy_drop"], 6) == 5.0

    gen = GenerationAgreement(0.9, 0.5, None, [{"prompt": "a|b", "original": "x\ny", "compressed": "x"}])
    llm = LlmQuality(10.0, 11.0, gen, TokenRates(20.0, 30.0, ("default", "f32")))
    result = StageResult(stage="quantize")
    fill_report(result, section, _outcome(llm, CompressionFacts("default")))
    quality = result.details["quality"]
    assert set(quality) == {"perplexity_original", "perplexity_compressed", "generation", "tokens_per_s_original",
                            "tokens_per_s_compressed", "tokens_per_s_precisions"}  # fmt: skip
    assert quality["generation"]["token_match_rate"] == 0.9 and quality["tokens_per_s_precisions"] == ["default", "f32"]
    assert "auto_ignored" not in result.details and "reverted_to_float" not in result.details
    assert round(result.gate_values["perplexity_increase_pct"], 6) == 10.0 and result.gate_values["speedup"] == 1.5
    assert result.tables[0].rows == [["a\\|b", "x ⏎ y", "x"]]  # generations, one row each


def test_accuracy_control_log_reads_reverted_operations_and_an_unmet_bound() -> None:
    """NNCF reports what it reverted, and that it missed max_drop, only in its INFO log."""
    import logging

    from ovtool.backends.nncf.nncf_ptq import _RevertedCapture

    def feed(*messages: str) -> _RevertedCapture:
        capture = _RevertedCapture()
        for message in messages:
            capture.emit(logging.LogRecord("nncf", logging.INFO, __file__, 0, message, None, None))
        return capture

    met = feed("Reverted 2 operations to the floating-point precision: \n\tMatMul_1\n\tMatMul_2",
               "2 out of 46 were reverted back to the floating-point precision:\n\tMatMul_1\n\tMatMul_2").outcome()
    assert met.met and met.reverted == ["MatMul_1", "MatMul_2"]
    missed = feed("Reverted 6 operations to the floating-point precision: \n\tAdd_3",
                  "The algorithm could not achieve the required accuracy drop.",
                  "0 out of 46 were reverted back to the floating-point precision:").outcome()
    assert not missed.met and missed.reverted == []
