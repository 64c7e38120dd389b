"""SmolLM2 GGUF → stateful IR with tokenizer IR: loads in openvino_genai and optimum-intel, answers Paris."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHAKESPEARE_DIR, SMOLLM2_GGUF, run_cli

QUESTION = "What is the capital of France?"
PARIS_IDS = [504, 3575, 282, 4649, 314, 7042, 30]


def greedy_chat_answer(model_dir: Path, question: str = QUESTION) -> str:
    """Greedy answer in f32 (quality checks run in f32, DESIGN.md): in bf16, the default on AVX-512 BF16
    and AMX CPUs, the INT8-weight model answers differently on different CPUs."""
    import openvino_genai

    pipe = openvino_genai.LLMPipeline(str(model_dir), "CPU", INFERENCE_PRECISION_HINT="f32")
    config = openvino_genai.GenerationConfig()
    config.max_new_tokens = 24
    config.do_sample = False
    return str(pipe.generate(question, config))  # applies the model's chat template by default


@pytest.mark.slow
def test_fp16_ir_answers_paris_with_genai(smollm2_fp16_ir: Path) -> None:
    answer = greedy_chat_answer(smollm2_fp16_ir)
    assert "Paris" in answer
    run = json.loads((smollm2_fp16_ir.parent / "run.json").read_text())
    details = run["stages"][0]["details"]
    assert details["source_format"] == "gguf"
    assert details["task"] == "text-generation-with-past"
    assert details["ir"]["stateful"] is True and details["tokenizer_ir"] is True
    assert "f16" in details["ir"]["weight_precisions"]


@pytest.mark.slow
def test_tokenizer_ir_round_trip(smollm2_fp16_ir: Path) -> None:
    import openvino_genai

    tokenizer = openvino_genai.Tokenizer(str(smollm2_fp16_ir))
    ids = tokenizer.encode("The capital of France is Paris.", add_special_tokens=False).input_ids.data
    assert ids.ravel().tolist() == PARIS_IDS
    text = next(SHAKESPEARE_DIR.rglob("*.md")).read_text(encoding="utf-8")[:3000]
    encoded = tokenizer.encode(text, add_special_tokens=False).input_ids.data
    assert tokenizer.decode(encoded.ravel().tolist()) == text
    hf = json.loads((smollm2_fp16_ir / "tokenizer_config.json").read_text())
    assert hf.get("eos_token") == "<|im_end|>"


@pytest.mark.slow
def test_ir_loads_with_optimum_intel(smollm2_fp16_ir: Path) -> None:
    from optimum.intel import OVModelForCausalLM
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_fp16_ir)
    model = OVModelForCausalLM.from_pretrained(smollm2_fp16_ir, ov_config={"INFERENCE_PRECISION_HINT": "f32"})
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}], tokenize=False,
                                           add_generation_prompt=True)  # fmt: skip
    batch = tokenizer(prompt, return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=16, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.slow
def test_int8_ir_is_compressed_and_still_answers(tmp_path: Path) -> None:
    out = tmp_path / "int8"
    proc = run_cli("convert", "-m", SMOLLM2_GGUF, "-o", out, "--weight-format", "int8", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    stage = json.loads(proc.stdout)["stages"][0]
    mix = stage["details"]["ir"]["weight_precisions"]
    int8 = mix.get("u8", 0) + mix.get("i8", 0)
    assert int8 / sum(mix.values()) > 0.9
    assert "Paris" in greedy_chat_answer(out / "model")


def test_corrupt_gguf_fails_in_dry_run(tmp_path: Path) -> None:
    bad = tmp_path / "cut.gguf"
    bad.write_bytes(SMOLLM2_GGUF.read_bytes()[: 1 << 20])
    proc = run_cli("convert", "-m", bad, "-o", tmp_path / "o", "--dry-run")
    assert proc.returncode == 2
    assert "truncated or corrupt GGUF" in proc.stderr and "Traceback" not in proc.stderr
