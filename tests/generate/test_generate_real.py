"""`ovtool generate` on the real SmolLM2 IR, through the real CLI (greedy unless a test says otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.generate.conftest import PROMPTS_JSONL

QUESTION = "What is the capital of France?"
# Exact greedy equality needs f32: in bf16 (this CPU's default) the multi-token verification pass of
# speculative decoding rounds differently from one-token steps and can flip near-tied tokens. The speculative
# tests rely on `inference_precision: auto` choosing f32 for greedy speculative decoding by itself.


def _generate(*args: str | Path, input_text: str | None = None) -> tuple[str, str]:
    proc = run_cli("generate", *args, "--max-new-tokens", "24", input_text=input_text)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, proc.stderr


@pytest.mark.slow
def test_answer_contains_paris_stdout_is_text_only(smollm2_fp16_ir: Path) -> None:
    stdout, stderr = _generate("-m", smollm2_fp16_ir, "-p", QUESTION)
    assert "Paris" in stdout
    assert stdout.count("\n") == 1  # the text, nothing else: `> answer.txt` works
    for metric in ("TTFT", "TPOT", "tokens/s", "peak RSS"):
        assert metric in stderr
    line = next(line for line in stderr.splitlines() if "warm decode" in line)
    assert "(cold," in line and "load" in line  # the warm decode rate beside the cold wall figure


@pytest.mark.slow
def test_batch_jsonl_run_json_template_and_greedy_determinism(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout, _ = _generate("-m", smollm2_fp16_ir, "--prompts", PROMPTS_JSONL, "--batch-size", "3", "-o", out)
    records = [json.loads(line) for line in (out / "outputs.jsonl").read_text().splitlines()]
    assert [r.get("id") for r in records] == ["france", "color", None, "france-again"]
    assert [r["batch"] for r in records] == [0, 0, 0, 1]
    for record in records:
        assert record["text"] and record["output_tokens"] > 0 and record["ttft_ms"] > 0
        assert record["finish_reason"] in ("stop", "length")
    # greedy: the same prompt gives the same text in another batch and in a separate single-prompt run
    assert records[0]["text"] == records[3]["text"] and "Paris" in records[0]["text"]
    single, _ = _generate("-m", smollm2_fp16_ir, "-p", QUESTION)
    assert single.rstrip("\n") == records[0]["text"]
    stdout_records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert [r["text"] for r in stdout_records] == [r["text"] for r in records]

    stage = json.loads((out / "run.json").read_text())["stages"][0]
    metrics = stage["metrics"]
    for key in ("ttft_ms", "tpot_ms", "tokens_per_s", "peak_rss_mb"):
        assert metrics[key]["value"] > 0, key
    assert metrics["prompts"]["value"] == 4 and metrics["generated_tokens"]["value"] > 4
    # cold wall rate (prefill included) vs the warm decode rate from TPOT, each with its definition
    assert metrics["decode_tokens_per_s"]["value"] == pytest.approx(1000 / metrics["tpot_ms"]["value"], rel=0.01)
    assert metrics["tokens_per_s"]["value"] < metrics["decode_tokens_per_s"]["value"]
    assert metrics["decode_tokens_per_s"]["description"].startswith("warm:")
    assert "cold" in metrics["tokens_per_s"]["description"]
    assert metrics["prefill_tokens_per_s"]["value"] > 0 and metrics["load_s"]["value"] > 0
    assert stage["details"]["speed_figures"]["warm"] == ["decode_tokens_per_s", "tpot_ms"]
    # the chat template is applied: the prompt became a templated conversation (37 tokens, not 7)
    assert stage["details"]["chat_template_applied"] is True
    assert records[0]["input_tokens"] > 20
    assert (out / "report.md").exists() and not (out / "model").exists()  # an IR input is not copied


@pytest.mark.slow
def test_stop_string_raw_prompt_and_device_settings(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    stdout, _ = _generate("-m", smollm2_fp16_ir, "-p", QUESTION, "--stop", "Paris")
    assert "Paris" not in stdout and "capital of France" in stdout
    out = tmp_path / "raw"
    perf = ("--set", "generate.performance.kv_cache_precision=u8", "--set", "generate.performance.threads=2")
    _generate("-m", smollm2_fp16_ir, "-p", QUESTION, "--no-chat-template", *perf, "-o", out)
    stage = json.loads((out / "run.json").read_text())["stages"][0]
    assert stage["details"]["chat_template_applied"] is False
    assert stage["details"]["device_properties"] == {"KV_CACHE_PRECISION": "u8", "INFERENCE_NUM_THREADS": 2}
    assert stage["metrics"]["input_tokens"]["value"] < 10  # the 7 raw tokens, no template around them


@pytest.mark.slow
def test_auto_precision_on_real_irs(smollm2_int4_ir: Path, smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    """auto: f32 for the INT4 IR (faster decoding on CPU), the device default for FP16; `default` sets nothing."""
    runs = {"int4": (smollm2_int4_ir,), "fp16": (smollm2_fp16_ir,),
            "int4-default": (smollm2_int4_ir, "--set", "generate.performance.inference_precision=default")}  # fmt: skip
    details = {}
    for name, (model, *extra) in runs.items():
        stdout, _ = _generate("-m", model, "-p", QUESTION, *extra, "-o", tmp_path / name)
        assert "Paris" in stdout, name
        details[name] = json.loads((tmp_path / name / "run.json").read_text())["stages"][0]["details"]
    assert details["int4"]["device_properties"]["INFERENCE_PRECISION_HINT"] == "f32"
    assert details["int4"]["inference_precision"] == "f32" and "weight-compressed" in details["int4"][
        "inference_precision_reason"]
    default = details["fp16"]["inference_precision"]  # whatever this CPU runs by default (bf16 with AMX)
    assert "INFERENCE_PRECISION_HINT" not in details["fp16"]["device_properties"]
    assert "INFERENCE_PRECISION_HINT" not in details["int4-default"]["device_properties"]
    assert details["int4-default"]["inference_precision"] == default and default in ("bf16", "f16", "f32")


@pytest.mark.slow
def test_seeded_sampling_repeats_and_stdin_prompt(smollm2_fp16_ir: Path) -> None:
    args = ("-m", smollm2_fp16_ir, "-p", "-", "--sample", "--temperature", "1.0", "--seed", "11")
    first, _ = _generate(*args, input_text="Tell me a joke.\n")
    second, _ = _generate(*args, input_text="Tell me a joke.\n")
    assert first == second and first.strip()


@pytest.mark.slow
def test_speculative_greedy_output_identical_to_plain(smollm2_fp16_ir: Path, smollm2_int4_ir: Path,
                                                      tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "sd"
    stdout, stderr = _generate("-m", smollm2_fp16_ir, "-p", QUESTION, "--draft", smollm2_int4_ir,
                               "--num-assistant-tokens", "3", "-o", out)  # fmt: skip
    assert "Paris" in stdout and "acceptance" in stderr and "speedup" in stderr
    stage = json.loads((out / "run.json").read_text())["stages"][0]
    assert stage["details"]["decoding"] == "draft"
    assert stage["details"]["device_properties"]["INFERENCE_PRECISION_HINT"] == "f32"  # auto, for exactness
    assert stage["details"]["identical_to_plain"] is True
    assert 0 < stage["metrics"]["acceptance_rate"]["value"] <= 1
    assert stage["metrics"]["speedup"]["value"] > 0


@pytest.mark.slow
def test_prompt_lookup_greedy_output_identical_to_plain(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pl"
    prompt = "Repeat this list exactly: apples, pears, plums, cherries, apples, pears, plums, cherries."
    _generate("-m", smollm2_fp16_ir, "-p", prompt, "--prompt-lookup", "-o", out)
    stage = json.loads((out / "run.json").read_text())["stages"][0]
    assert stage["details"]["decoding"] == "prompt_lookup"
    assert stage["details"]["identical_to_plain"] is True
    assert stage["metrics"]["tokens_per_target_step"]["value"] >= 1.0


@pytest.mark.slow
def test_chat_session_history_reset_exit(smollm2_fp16_ir: Path) -> None:
    turns = f"{QUESTION}\nAnd of Germany?\n/reset\n/nonsense\n/exit\nnever read\n"
    proc = run_cli("generate", "-m", smollm2_fp16_ir, "--chat", "--max-new-tokens", "16", input_text=turns)
    assert proc.returncode == 0, proc.stderr[-3000:]
    replies = proc.stdout.splitlines()
    assert len(replies) == 2  # two turns answered, then /reset, an unknown command, /exit
    assert "Paris" in replies[0] and "Berlin" in replies[1]  # the second turn saw the first (history)
    assert "history cleared" in proc.stderr and "unknown command /nonsense" in proc.stderr
