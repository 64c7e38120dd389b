"""Bad input to `ovtool generate` → exit 2 with a one-line message, before any model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovtool.errors import RecipeError
from ovtool.recipe.loader import load_recipe
from tests.conftest import MINILM_DIR, NUDENET_ONNX, ROOT, SMOLLM2_GGUF, run_cli


def _fails(*args: str | Path) -> str:
    proc = run_cli("generate", *args)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return proc.stderr


@pytest.mark.slow
def test_ir_without_tokenizer_ir(ir_without_tokenizer: Path) -> None:
    assert "openvino_tokenizer.xml / openvino_detokenizer.xml" in _fails("-m", ir_without_tokenizer, "-p", "hi")


@pytest.mark.slow
def test_bad_prompt_sources_and_sampling_values(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    model = ("-m", smollm2_fp16_ir)
    assert f"prompt file {empty} is empty" in _fails(*model, "--prompt-file", empty)
    assert "has no prompts" in _fails(*model, "--prompts", empty)
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text('{"prompt": "ok"}\n{"text": "no prompt key"}\n')
    assert "bad.jsonl line 2" in _fails(*model, "--prompts", bad_jsonl)
    assert "no prompt: pass -p" in _fails(*model)
    assert "generate: the prompt is empty" in _fails(*model, "-p", "")
    assert "generate.temperature: Input should be greater than 0" in _fails(*model, "-p", "x", "--sample",
                                                                              "--temperature", "-1")  # fmt: skip
    stderr = _fails(*model, "-p", "x", "--sample", "--top-p", "1.5", "--top-k", "0")
    assert "generate.top_p" in stderr and "generate.top_k" in stderr
    assert "need do_sample: true (--sample)" in _fails(*model, "-p", "x", "--temperature", "0.7")
    assert "exceeds max_new_tokens" in _fails(*model, "-p", "x", "--min-new-tokens", "9", "--max-new-tokens", "4")
    assert "speculative.draft: model not found" in _fails(*model, "-p", "x", "--draft", tmp_path / "nope")
    assert "exactly one of speculative.draft" in _fails(*model, "-p", "x", "--num-assistant-tokens", "3")
    assert "--chat publishes nothing" in _fails(*model, "--chat", "-o", tmp_path / "o")


def test_model_missing() -> None:
    assert "model not found" in _fails("-m", "no/such/model.gguf", "-p", "x")


def test_inputs_that_can_never_generate_fail_at_dry_run(tmp_path: Path) -> None:
    """An ONNX model (model or draft) has no tokenizer to convert; a folder is not a prompts file."""
    stderr = _fails("-m", NUDENET_ONNX, "-p", "x", "--dry-run")
    assert f"model: {NUDENET_ONNX} (onnx) has no tokenizer" in stderr
    assert "speculative.draft:" in _fails("-m", SMOLLM2_GGUF, "--draft", NUDENET_ONNX, "-p", "x", "--dry-run")
    assert f"prompts file {tmp_path} is a folder" in _fails("-m", SMOLLM2_GGUF, "--prompts", tmp_path, "--dry-run")
    assert f"prompt file {tmp_path} is a folder" in _fails("-m", SMOLLM2_GGUF, "--prompt-file", tmp_path)
    assert "is a BertModel (config.json architectures), not a text generation model" in _fails(
        "-m", MINILM_DIR, "-p", "x", "--dry-run")


def test_shipped_generate_recipes_validate() -> None:
    recipes = sorted((ROOT / "recipes").glob("generate-*.yaml"))
    assert len(recipes) >= 2
    for path in recipes:
        assert load_recipe(path).recipe.generate is not None


def test_speculative_combinations_rejected_by_the_schema() -> None:
    cases = {
        "draft and prompt lookup": {"draft": "d", "prompt_lookup": True},
        "threshold and count": {"draft": "d", "num_assistant_tokens": 3, "assistant_confidence_threshold": 0.5},
        "threshold without draft": {"prompt_lookup": True, "assistant_confidence_threshold": 0.5},
    }
    for name, spec in cases.items():
        with pytest.raises(RecipeError, match=r"generate\.speculative"):
            load_recipe(None, [], {"generate": {"prompt": "x", "speculative": spec}})
            pytest.fail(f"{name} was accepted")
