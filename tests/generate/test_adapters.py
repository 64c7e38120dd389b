"""LoRA adapters at generation (`--adapter PATH[:ALPHA]`, `generate.adapters`, `benchmark.adapters`).

Real SmolLM2 IR, real openvino_genai. The Shakespeare adapter trained by scripts/train_lora.py shows the
effect (output changes, held-out perplexity drops); small random adapters written here with safetensors'
NumPy API (no torch) check alpha, blending and every bad-input path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT, SHAKESPEARE_DIR, run_cli

PROMPT = "Write two lines about the sea."
PROJ_OUT = {"q_proj": 576, "k_proj": 192, "v_proj": 192, "o_proj": 576}  # SmolLM2-135M: hidden 576, 3 KV heads


def make_adapter(path: Path, *, seed: int, rank: int = 4, hidden: int = 576, std: float = 0.2,
                 prefix: str = "base_model.model.model.layers", b_rank: int | None = None,
                 config: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """A random PEFT-named LoRA adapter on q/v of all 30 layers (a folder with adapter_config.json if `config`)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(30):
        for module in ("q_proj", "v_proj"):
            name = f"{prefix}.{layer}.self_attn.{module}"
            tensors[f"{name}.lora_A.weight"] = (rng.standard_normal((rank, hidden)) * std).astype(np.float32)
            tensors[f"{name}.lora_B.weight"] = (rng.standard_normal((PROJ_OUT[module], b_rank or rank)) * std
                                                ).astype(np.float32)  # fmt: skip
    if config is None:
        save_file(tensors, str(path))
        return path
    path.mkdir(parents=True)
    save_file(tensors, str(path / "adapter_model.safetensors"))
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", **config}))
    return path


@pytest.fixture(scope="module")
def random_adapters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("adapters")
    return {"x": make_adapter(folder / "x.safetensors", seed=1), "y": make_adapter(folder / "y.safetensors", seed=2)}


def _generate(*args: str | Path) -> tuple[str, dict[str, Any]]:
    """Greedy text and the generate stage's run.json record (OUT is the last argument after -o)."""
    proc = run_cli("generate", *args, "--max-new-tokens", "24", "--no-cache")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = Path(args[list(args).index("-o") + 1])
    return proc.stdout, json.loads((out / "run.json").read_text())["stages"][0]


@pytest.fixture(scope="module")
def base_text(smollm2_fp16_ir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    text, stage = _generate("-m", smollm2_fp16_ir, "-p", PROMPT, "-o", tmp_path_factory.mktemp("base") / "out")
    assert stage["details"]["adapters"] == []
    return text


@pytest.mark.slow
def test_trained_adapter_changes_output_recorded_and_none_overrides_the_recipe(
    smollm2_fp16_ir: Path, smollm2_lora: Path, base_text: str, tmp_path: Path
) -> None:  # fmt: skip
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"model": str(smollm2_fp16_ir),
                                  "generate": {"prompt": PROMPT, "adapters": [{"path": str(smollm2_lora)}]}}))
    adapted, stage = _generate(recipe, "-o", tmp_path / "lora")
    assert adapted != base_text
    [record] = stage["details"]["adapters"]
    weights = smollm2_lora / "adapter_model.safetensors"
    assert record["path"] == str(weights) and record["alpha"] == 1.0
    assert record["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    config = json.loads((smollm2_lora / "adapter_config.json").read_text())
    assert record["scale"] == config["lora_alpha"] / config["r"] and record["rank"] == config["r"]

    plain, stage = _generate(recipe, "--adapter", "none", "-o", tmp_path / "none")
    assert plain == base_text and stage["details"]["adapters"] == []


@pytest.mark.slow
def test_alpha_zero_is_the_base_model_and_alpha_one_is_not(
    smollm2_fp16_ir: Path, random_adapters: dict[str, Path], base_text: str, tmp_path: Path
) -> None:  # fmt: skip
    x = random_adapters["x"]
    zero, stage = _generate("-m", smollm2_fp16_ir, "-p", PROMPT, "--adapter", f"{x}:0", "-o", tmp_path / "a0")
    assert zero == base_text and stage["details"]["adapters"][0]["alpha"] == 0.0
    one, _ = _generate("-m", smollm2_fp16_ir, "-p", PROMPT, "--adapter", f"{x}:1", "-o", tmp_path / "a1")
    assert one != base_text


@pytest.mark.slow
def test_adapter_applies_to_a_weight_compressed_ir(
    smollm2_int4_ir: Path, random_adapters: dict[str, Path], tmp_path: Path
) -> None:  # fmt: skip
    """INT4 weights (openvino_genai's fuse mode would refuse them; ovtool's static mode does not)."""
    x = random_adapters["x"]
    base, _ = _generate("-m", smollm2_int4_ir, "-p", PROMPT, "--adapter", f"{x}:0", "-o", tmp_path / "a0")
    adapted, stage = _generate("-m", smollm2_int4_ir, "-p", PROMPT, "--adapter", str(x), "-o", tmp_path / "a1")
    assert adapted != base and stage["details"]["adapters"][0]["modules"] == 60


def _logprobs(ir: Path, items: list[tuple[Path, float]], blocks: list[list[int]]) -> np.ndarray:
    from ovtool.backends.genai.adapters import check_adapters, prompt_logprobs

    applied = check_adapters([(str(p), a) for p, a in items], ir / "openvino_model.xml")
    rows = prompt_logprobs(ir, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}, applied, blocks)
    return np.asarray(rows, dtype=np.float64)


def _blocks(ir: Path, text: str, count: int, length: int) -> list[list[int]]:
    """`count` token blocks of `length`, spread evenly over `text`, tokenized by the IR's own tokenizer."""
    import openvino_genai as ov_genai

    ids = ov_genai.Tokenizer(str(ir)).encode(text, add_special_tokens=False).input_ids.data[0].tolist()
    starts = range(0, len(ids) - length, max((len(ids) - length) // count, 1))
    return [ids[s : s + length] for s in starts][:count]


@pytest.mark.slow
def test_two_adapters_blend_by_alpha(smollm2_fp16_ir: Path, random_adapters: dict[str, Path]) -> None:
    x, y = random_adapters["x"], random_adapters["y"]
    blocks = _blocks(smollm2_fp16_ir, (SHAKESPEARE_DIR / "tragedies" / "macbeth.md").read_text()[:4000], 2, 24)
    base = _logprobs(smollm2_fp16_ir, [], blocks)
    only_x = _logprobs(smollm2_fp16_ir, [(x, 1.0)], blocks)
    only_y = _logprobs(smollm2_fp16_ir, [(y, 1.0)], blocks)
    both = _logprobs(smollm2_fp16_ir, [(x, 1.0), (y, 1.0)], blocks)
    halves = _logprobs(smollm2_fp16_ir, [(x, 0.5), (x, 0.5)], blocks)  # the same adapter twice = alpha 1
    for other in (base, only_x, only_y):
        assert np.abs(both - other).max() > 0.05
    np.testing.assert_allclose(halves, only_x, rtol=1e-3, atol=2e-3)  # float summation order only


def _train_lora_module() -> Any:
    spec = importlib.util.spec_from_file_location("train_lora", ROOT / "scripts" / "train_lora.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_trained_adapter_lowers_held_out_perplexity_on_the_openvino_side(
    smollm2_fp16_ir: Path, smollm2_lora: Path
) -> None:  # fmt: skip
    train_lora = _train_lora_module()
    held_out = train_lora.play_text(train_lora.play_files(SHAKESPEARE_DIR, held_out=True))
    blocks = _blocks(smollm2_fp16_ir, held_out, 16, 64)
    assert len(blocks) == 16

    def perplexity(items: list[tuple[Path, float]]) -> float:
        return math.exp(-float(_logprobs(smollm2_fp16_ir, items, blocks).mean()))

    base, adapted = perplexity([]), perplexity([(smollm2_lora, 1.0)])
    assert adapted < 0.85 * base, (base, adapted)


def _fails(*args: str | Path, command: str = "generate") -> str:
    proc = run_cli(command, *args)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.mark.slow
def test_bad_adapters_exit_2_naming_the_file_and_publish_nothing(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.safetensors"
    text.write_text("not a safetensors file\n")
    other_model = make_adapter(tmp_path / "hidden960.safetensors", seed=3, hidden=960)  # a 360M-sized adapter
    other_names = make_adapter(tmp_path / "gpt2.safetensors", seed=4, prefix="base_model.model.transformer.h")
    no_prefix = make_adapter(tmp_path / "bare.safetensors", seed=5, prefix="model.layers")
    ranks = make_adapter(tmp_path / "ranks.safetensors", seed=6, b_rank=8)
    config_rank = make_adapter(tmp_path / "cfg", seed=7, config={"r": 16, "lora_alpha": 16})
    dora = make_adapter(tmp_path / "dora", seed=8, config={"r": 4, "lora_alpha": 8, "use_dora": True})
    out = tmp_path / "out"
    run = ("-m", smollm2_fp16_ir, "-p", "hi", "-o", out)
    cases = {
        text: "not a safetensors file",
        other_model: "maps 576 → 576 features",
        other_names: "transformer.h.0.self_attn.q_proj is not a MatMul of",
        no_prefix: "lacks the PEFT prefix",
        ranks: "lora_A of rank 4 but lora_B of rank 8",
        config_rank: "says r=16 but the LoRA matrices have rank 4",
        dora: "use_dora",
        tmp_path / "missing": "not found",
    }
    for path, message in cases.items():
        error = _fails(*run, "--adapter", str(path))
        assert message in error and str(path) in error, error
    assert "ALPHA 'strong' is not a number" in _fails(*run, "--adapter", f"{ranks}:strong")
    assert "--adapter none runs the base model" in _fails(*run, "--adapter", "none", "--adapter", str(ranks))
    assert "drop speculative" in _fails(*run, "--adapter", str(ranks), "--prompt-lookup")
    assert not out.exists()
    assert "apply to LLMs" in _fails("-m", smollm2_fp16_ir, "--set", "benchmark.mode=static", "--adapter",
                                     str(text), "-o", out, command="benchmark")  # fmt: skip


@pytest.mark.slow
def test_benchmark_measures_each_model_without_and_with_the_adapters(
    smollm2_fp16_ir: Path, smollm2_lora: Path, tmp_path: Path
) -> None:  # fmt: skip
    out = tmp_path / "bench"
    proc = run_cli("benchmark", "-m", smollm2_fp16_ir, "--adapter", f"{smollm2_lora}:0.5", "-o", out, "--no-cache",
                   "--set", "benchmark.prompt_lengths=[16]", "--set", "benchmark.output_lengths=[8]",
                   "--set", "benchmark.repeats=1", "--set", "benchmark.warmup=1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    details = json.loads((out / "run.json").read_text())["stages"][0]["details"]
    labels = [model["label"] for model in details["models"]]
    assert labels == [labels[0], f"{labels[0]}+lora"]
    assert all(model["generation_tokens_per_s"] > 0 for model in details["models"])
    assert details["models"][1]["ratios"]["speedup"] > 0  # the adapters' cost as a same-run ratio
    assert details["adapters"][0]["alpha"] == 0.5 and details["adapters"][0]["scale"] > 0
