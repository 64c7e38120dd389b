"""The wheel `python -m build` makes installs into a clean venv with the core only (no torch), carries what
it needs (recipe starters, schema), and the core chain convert (ONNX) → quantize → benchmark → generate
runs there on an IR the full install made. The venv's packages come from the lock, as `make install`.

Slow (a venv of ~1.3 GB is installed; pip's wheel cache makes repeats quicker), but it is the only proof
that `pip install ovtool` without extras works.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import MINILM_DIR, NUDENET_ONNX, SHAKESPEARE_DIR

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
pytestmark = pytest.mark.slow


def _run(cmd: list[str | Path], cwd: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH: the venv must import ovtool from its own site-packages, not from this checkout.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build --wheel` of a copy of the project (the checkout gets no build/ or egg-info)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "ovtool", src / "ovtool", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, src])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = dist.glob("ovtool-*.whl")
    return whl


@pytest.fixture(scope="module")
def core_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its core dependencies, pinned by the lock: its bin folder."""
    venv = tmp_path_factory.mktemp("core") / "venv"
    assert _run([sys.executable, "-m", "venv", venv]).returncode == 0
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "--upgrade", "pip"])
    proc = _run([*pip, "-c", LOCK, wheel])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv / "bin"


def test_wheel_carries_starters(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    starters = [n for n in names if n.startswith("ovtool/recipe/starters/") and n.endswith(".yaml")]
    assert len(starters) == len(list((ROOT / "ovtool/recipe/starters").glob("*.yaml"))) > 0


def test_core_venv_has_no_torch_and_runs_from_the_wheel(core_bin: Path, tmp_path: Path) -> None:
    for module in ("torch", "optimum", "accelerate"):
        proc = _run([core_bin / "python", "-c", f"import {module}"])
        assert proc.returncode == 1 and "ModuleNotFoundError" in proc.stderr, module
    where = _run([core_bin / "python", "-c", "import ovtool; print(ovtool.__file__)"], cwd=tmp_path)
    assert "site-packages" in where.stdout, where.stdout
    version = _run([core_bin / "ovtool", "--version"])
    assert version.returncode == 0 and "0.1.0" in version.stdout, version.stderr
    proc = _run([core_bin / "ovtool", "recipe", "init", "ptq-int8", "-o", tmp_path / "ptq.yaml"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "quantize:" in (tmp_path / "ptq.yaml").read_text()
    schema = _run([core_bin / "ovtool", "recipe", "schema"])
    assert schema.returncode == 0 and '"quantize"' in schema.stdout, schema.stderr[-2000:]


def test_core_venv_names_the_extra_for_a_hugging_face_model(core_bin: Path, tmp_path: Path) -> None:
    proc = _run([core_bin / "ovtool", "convert", "-m", MINILM_DIR, "-o", tmp_path / "out", "--dry-run"])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "converting a Hugging Face model needs `pip install 'ovtool[hf]'`" in proc.stderr


def test_core_chain_without_torch(core_bin: Path, smollm2_fp16_ir: Path, tmp_path: Path, assets: Path) -> None:
    """convert ONNX → IR; INT8 weights of the full install's SmolLM2 IR with perplexity measured (NumPy);
    benchmark both IRs; generate the answer — all in the venv without torch."""
    ovtool = core_bin / "ovtool"
    proc = _run([ovtool, "convert", "-m", NUDENET_ONNX, "-o", tmp_path / "nudenet", "--no-cache"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _run([ovtool, "quantize", "-m", smollm2_fp16_ir, "--weights", "int8_asym", "--evaluation", SHAKESPEARE_DIR,
                 "--set", "quantize.quality.samples=4", "--set", "quantize.quality.prompts=1",
                 "--set", "quantize.quality.max_new_tokens=8", "--set", "quantize.quality.speed_seconds=0",
                 "-o", tmp_path / "int8", "--no-cache"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "perplexity" in (tmp_path / "int8" / "report.md").read_text().lower()
    proc = _run([ovtool, "benchmark", "-m", tmp_path / "nudenet" / "model", "--duration", "1",
                 "--shape", "[1,3,320,320]", "-o", tmp_path / "bench", "--no-cache"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _run([ovtool, "benchmark", "-m", tmp_path / "int8" / "model", "--set", "benchmark.prompt_lengths=[16]",
                 "--set", "benchmark.output_lengths=[8]", "--set", "benchmark.repeats=1",
                 "-o", tmp_path / "bench-llm", "--no-cache"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _run([ovtool, "generate", "-m", tmp_path / "int8" / "model", "-p", "What is the capital of France?",
                 "--max-new-tokens", "12", "-o", tmp_path / "gen", "--no-cache"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Paris" in (tmp_path / "gen" / "report.md").read_text()
