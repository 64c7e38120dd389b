"""Optional extras: a stage that needs a missing extra exits 2 at validation naming the pip command, and
the core paths run with torch (and optimum, accelerate, gguf) made unimportable.

The block is a sitecustomize.py on PYTHONPATH that hides those packages from the path finder, so
`import torch` raises ModuleNotFoundError and find_spec says "not installed" — in the ovtool process
and in every Python process it starts. tests/test_install.py proves the same in a real venv without torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ovtool import extras
from ovtool.errors import UserError
from tests.conftest import MINILM_BBC_DIR, MINILM_DIR, NUDENET_ONNX, SMOLLM2_GGUF, run_cli

BLOCKED = ("torch", "torchvision", "optimum", "accelerate", "gguf")
# The path finder no longer sees the blocked packages: find_spec says None and `import` raises
# ModuleNotFoundError, as in a venv without them (None in sys.modules would trip libraries that test
# `"torch" in sys.modules`, which a venv without torch never does).
HIDE = """import sys
from importlib.machinery import PathFinder


class _Hidden(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            return None
        return PathFinder.find_spec(name, path, target)


sys.meta_path[:] = [_Hidden if finder is PathFinder else finder for finder in sys.meta_path]
"""
ROOT = Path(__file__).resolve().parents[2]


def test_require_names_the_extra_and_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "optimum", None)
    assert extras.missing("hf") == ["torch", "optimum", "optimum-intel"]  # the parent blocked: its child too
    with pytest.raises(UserError) as err:
        extras.require("hf", "converting a Hugging Face model")
    message = str(err.value)
    assert message.startswith("converting a Hugging Face model needs `pip install 'ovtool[hf]'`")
    assert "torch" in message and "optimum-intel" in message
    extras.require_for_source("onnx")  # the core formats need nothing more
    extras.require_for_source("ir")


def test_require_passes_when_installed() -> None:
    for extra in extras.EXTRAS:  # the test venv has [all]
        extras.require(extra, "anything")


@pytest.fixture(scope="module")
def no_torch_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment whose Python processes cannot import torch/optimum/accelerate/gguf."""
    site = tmp_path_factory.mktemp("no-torch")
    (site / "sitecustomize.py").write_text(HIDE.format(blocked=set(BLOCKED)))
    path = os.pathsep.join(p for p in (str(site), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


def test_the_block_works(no_torch_env: dict[str, str]) -> None:
    import subprocess

    proc = subprocess.run([sys.executable, "-c", "import torch"], env={**os.environ, **no_torch_env},
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 1 and "ModuleNotFoundError: No module named 'torch'" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["convert", "-m", str(MINILM_DIR)], "converting a Hugging Face model needs `pip install 'ovtool[hf]'`"),
        (["convert", "-m", str(SMOLLM2_GGUF)], "converting a GGUF model needs `pip install 'ovtool[hf]'`"),
        (["quantize", "-m", str(MINILM_DIR), "--set", "quantize.calibration.path=.assets/bbcnews/data"],
         "converting a Hugging Face model needs `pip install 'ovtool[hf]'`"),
        (["prune", "recipes/minilm-bbc-prune.yaml"], "pruning a model needs `pip install 'ovtool[train]'`"),
        (["distill", "recipes/minilm-bbc-distill.yaml"], "distilling a model needs `pip install 'ovtool[train]'`"),
        (["benchmark", "-m", str(NUDENET_ONNX), "--set", f"benchmark.pytorch_baseline={MINILM_BBC_DIR}"],
         "needs `pip install 'ovtool[hf]'`"),
    ],
    ids=["hf", "gguf", "quantize-hf", "prune", "distill", "pytorch-baseline"],
)
def test_missing_extra_exits_2_at_validation(
    args: list[str], message: str, no_torch_env: dict[str, str], tmp_path: Path, assets: Path
) -> None:
    proc = run_cli(*args, "-o", tmp_path / "out", "--dry-run", env=no_torch_env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_core_paths_run_without_torch(
    no_torch_env: dict[str, str], smollm2_fp16_ir: Path, tmp_path: Path, assets: Path
) -> None:
    """convert ONNX, benchmark the IR, generate, dataset split: all finish with torch unimportable."""
    ir = tmp_path / "nudenet"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", ir, "--no-cache", env=no_torch_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_cli("benchmark", "-m", ir / "model", "-o", tmp_path / "bench", "--duration", "1",
                   "--shape", "[1,3,320,320]", "--no-cache", env=no_torch_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_cli("generate", "-m", smollm2_fp16_ir, "-p", "What is the capital of France?",
                   "--max-new-tokens", "12", "-o", tmp_path / "gen", "--no-cache", env=no_torch_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Paris" in (tmp_path / "gen" / "report.md").read_text()
    proc = run_cli("dataset", "split", "-r", ROOT / "recipes/dataset-bbc-split.yaml", "-o", tmp_path / "split",
                   "--no-cache", env=no_torch_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "split" / "dataset" / "train.jsonl").stat().st_size > 0
