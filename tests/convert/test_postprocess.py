"""convert.postprocess: last token / TopK / Softmax folded into the IR equal NumPy's on the original logits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import BBC_DIR, MINILM_BBC_DIR, SMOLLM2_GGUF, run_cli

PROMPT_IDS = [504, 3575, 282, 4649, 314]  # "The capital of France is" in SmolLM2's tokenizer


def infer(xml: Path, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs by name, in f32 (bf16 is the default on AVX-512 BF16/AMX CPUs and would blur 1e-5)."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(feed)
    return {port.get_any_name(): np.asarray(result[port]) for port in compiled.outputs}


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def check_topk(logits: np.ndarray, got: dict[str, Any], k: int) -> None:
    order = np.argsort(-logits, axis=-1)[..., :k]
    top = np.take_along_axis(logits, order, axis=-1)
    np.testing.assert_array_equal(got["logits_topk_indices"], order)
    np.testing.assert_allclose(got["logits_topk_values"], softmax(top), atol=1e-5, rtol=0)


def bbc_feed() -> dict[str, np.ndarray]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(MINILM_BBC_DIR / "tokenizer.json"))
    tokenizer.enable_truncation(128)
    text = sorted((BBC_DIR / "tech").iterdir())[0].read_text(encoding="utf-8", errors="replace")
    enc = tokenizer.encode(text)
    as_batch = lambda xs: np.array([xs], dtype=np.int64)  # noqa: E731
    return {"input_ids": as_batch(enc.ids), "attention_mask": as_batch(enc.attention_mask),
            "token_type_ids": as_batch(enc.type_ids)}  # fmt: skip


@pytest.mark.slow
def test_classifier_topk_softmax_equals_numpy(minilm_bbc_ir: Path, tmp_path: Path) -> None:
    out = tmp_path / "top3"
    proc = run_cli("convert", "-m", minilm_bbc_ir, "-o", out, "--topk", "3", "--softmax")
    assert proc.returncode == 0, proc.stderr[-2000:]
    feed = bbc_feed()
    logits = infer(minilm_bbc_ir / "openvino_model.xml", feed)["logits"]
    got = infer(out / "model" / "openvino_model.xml", feed)
    assert set(got) == {"logits_topk_values", "logits_topk_indices"}
    check_topk(logits, got, 3)
    report = (out / "report.md").read_text()
    assert "| output | logits_topk_values | [?,3] | f32 |" in report
    assert "| output | logits_topk_indices | [?,3] | i64 |" in report
    details = json.loads((out / "run.json").read_text())["stages"][0]["details"]
    assert [p["name"] for p in details["ir"]["inputs"]] == ["input_ids", "attention_mask", "token_type_ids"]
    assert details["postprocess"]["shape_before"] == "[?,5]"


@pytest.mark.slow
def test_stateless_lm_last_token_topk_softmax_equals_numpy(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    """SmolLM2 (real weights) made stateless, then `convert --last-token --topk 10 --softmax` on that IR."""
    import openvino as ov
    from openvino._offline_transformations import stateful_to_stateless_transformation

    model = ov.Core().read_model(smollm2_fp16_ir / "openvino_model.xml")
    stateful_to_stateless_transformation(model)
    stateless = tmp_path / "stateless" / "openvino_model.xml"
    ov.save_model(model, stateless, compress_to_fp16=False)
    del model
    out = tmp_path / "top10"
    proc = run_cli("convert", "-m", stateless.parent, "-o", out, "--last-token", "--topk", "10", "--softmax")
    assert proc.returncode == 0, proc.stderr[-2000:]
    ids = np.array([PROMPT_IDS], dtype=np.int64)
    base = ov.Core().read_model(stateless)
    feed: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                   "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None]}  # fmt: skip
    for port in base.inputs:  # an empty KV cache: [batch, heads, 0, head_size]
        if port.get_any_name().startswith("past_key_values"):
            dims = [1 if i == 0 else 0 if i == 2 else d.get_length() for i, d in enumerate(port.get_partial_shape())]
            feed[port.get_any_name()] = np.zeros(dims, dtype=np.float32)
    logits = infer(stateless, feed)["logits"][:, -1, :]
    got = infer(out / "model" / "openvino_model.xml", feed)
    check_topk(logits, got, 10)
    assert got["logits_topk_values"].shape == (1, 10) and "logits" not in got
    assert [p.get_any_name() for p in base.inputs] == [
        p["name"] for p in json.loads((out / "run.json").read_text())["stages"][0]["details"]["ir"]["inputs"]]


@pytest.mark.parametrize(("args", "needle"), [
    (["--topk", "0"], "greater than 0"),
    (["--topk", "6"], "topk 6 is more than the 5 values"),
    (["--topk", "2", "--postprocess-output", "scores"], "no output 'scores'"),
    (["--last-token"], "last_token needs a [batch, sequence, vocab] output"),
])  # fmt: skip
def test_invalid_postprocess_exits_2_in_one_line(minilm_bbc_ir: Path, tmp_path: Path, args: list[str],
                                                   needle: str) -> None:  # fmt: skip
    proc = run_cli("convert", "-m", minilm_bbc_ir, "-o", tmp_path / "out", *args, "--dry-run")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert needle in proc.stderr
    assert not (tmp_path / "out").exists()


def test_postprocess_on_a_stateful_llm_export_exits_2_before_work(tmp_path: Path) -> None:
    proc = run_cli("convert", "-m", SMOLLM2_GGUF, "-o", tmp_path / "out", "--topk", "5", "--dry-run")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "set stateful: false (--disable-stateful)" in proc.stderr
