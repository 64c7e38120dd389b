"""`generate.performance.inference_precision: auto` — which INFERENCE_PRECISION_HINT the stage sets, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovtool.backends.genai.genai import weights_compressed
from ovtool.recipe.sections.generate import PerformanceSection
from ovtool.stages.precision import choose_precision


def _tiny_ir(folder: Path, int8_weights: bool) -> Path:
    """x[?, 64] → MatMul(64→48): f32 weights, or the same compressed to int8 by NNCF."""
    import nncf
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 64], np.float32, name="x")
    weight = np.random.default_rng(0).standard_normal((48, 64)).astype(np.float32)
    model = ov.Model([ops.matmul(x, ops.constant(weight), False, True)], [x], "tiny")
    if int8_weights:
        model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    folder.mkdir()
    ov.save_model(model, folder / "openvino_model.xml", compress_to_fp16=False)
    return folder


def test_weight_compression_is_read_from_the_ir(tmp_path: Path) -> None:
    assert weights_compressed(_tiny_ir(tmp_path / "int8", True)) is True
    assert weights_compressed(_tiny_ir(tmp_path / "f32", False)) is False
    assert weights_compressed(tmp_path) is False  # no IR in the folder: nothing to speed up


@pytest.mark.parametrize(
    ("asked", "device", "int8", "speculative", "expected"),
    [
        ("auto", "CPU", True, False, "f32"),   # decode-bound INT4/INT8 LLM: f32 + dynamic int8 activations
        ("auto", "CPU", False, False, None),   # fp16/fp32 weights: the device default is faster
        ("auto", "CPU", False, True, "f32"),   # greedy speculative must equal plain greedy
        ("auto", "GPU", True, True, None),     # the rule is measured on CPU only
        ("default", "CPU", True, True, None),  # never set
        ("bf16", "CPU", True, False, "bf16"),  # as asked
    ],
)  # fmt: skip
def test_auto_precision_rule(tmp_path: Path, asked: str, device: str, int8: bool, speculative: bool,
                             expected: str | None) -> None:  # fmt: skip
    folder = _tiny_ir(tmp_path / "m", int8)
    precision, why = choose_precision(PerformanceSection(inference_precision=asked), device, folder,
                                      exact_speculative=speculative)  # fmt: skip
    assert precision == expected
    assert why


def test_a_raw_property_wins_over_auto(tmp_path: Path) -> None:
    perf = PerformanceSection(properties={"INFERENCE_PRECISION_HINT": "bf16"})
    precision, why = choose_precision(perf, "CPU", _tiny_ir(tmp_path / "m", True), exact_speculative=True)
    assert precision == "bf16" and "properties" in why
