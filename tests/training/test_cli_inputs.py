"""Bad input to `ovtool prune` / `ovtool distill`: exit 2, one line naming the fix, nothing published."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BBC_DIR, MINILM_DIR, ROOT, run_cli


def _check_refused(proc, out: Path, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def _tiny_ir(folder: Path) -> Path:
    import openvino as ov
    import openvino.opset13 as ops

    param = ops.parameter([1, 4], ov.Type.f32, name="x")
    ov.save_model(ov.Model([ops.relu(param)], [param], "tiny"), folder / "openvino_model.xml")
    return folder


def test_ir_as_model_is_refused(tmp_path: Path) -> None:
    out, ir = tmp_path / "out", _tiny_ir(tmp_path / "ir")
    for cmd in (["prune", "--heads-ratio", "0.5"], ["distill", "--student-layers", "2"]):
        proc = run_cli(*cmd, "-m", ir, "--data", BBC_DIR, "-o", out)
        _check_refused(proc, out, "not an OpenVINO IR")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["prune"], "data is required"),
        (["prune", "--data", str(BBC_DIR)], "needs `structured:`"),
        (["prune", "--data", str(BBC_DIR), "--method", "magnitude_global"], "needs sparsity"),
        (["prune", "--data", str(BBC_DIR), "--method", "regularization", "--sparsity", "0.5"], "add `recovery:`"),
        (["prune", "--data", str(BBC_DIR), "--heads-ratio", "1.5"], "heads_ratio"),
        (["prune", "--data", "/nonexistent/bbc", "--heads-ratio", "0.5"], "not found"),
        (["distill"], "data is required"),
        (["distill", "--data", str(BBC_DIR), "--student-layers", "9"], "more than the teacher's 6 layers"),
        (["distill", "--data", str(BBC_DIR), "--set", "distill.training.resume=true"], "needs checkpoint_dir"),
        (["distill", "--data", str(BBC_DIR), "--set", "distill.student.layer_ids=[0,7]"], "layer_ids"),
    ],
)
def test_bad_recipes_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "out"
    proc = run_cli(*args, "-m", MINILM_DIR, "-o", out)
    _check_refused(proc, out, needle)


@pytest.mark.parametrize("cmd", [["prune", "--heads-ratio", "0.5"], ["distill", "--student-layers", "2"]])
def test_data_that_is_not_text_is_refused_at_dry_run(tmp_path: Path, assets: Path, cmd: list[str]) -> None:
    """Fashion-MNIST's idx files given as text data: refused by --dry-run, before the model is loaded
    (the run used to find out only after loading the model, seconds to minutes later)."""
    out = tmp_path / "out"
    fmnist = assets / "fashion_mnist"
    proc = run_cli(*cmd, "-m", MINILM_DIR, "--data", fmnist, "-o", out, "--dry-run")
    _check_refused(proc, out, f"error: {fmnist}: a folder with neither label subfolders of .txt files nor .txt/.md")
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli(*cmd, "-m", MINILM_DIR, "--data", BBC_DIR, "--set", f"{cmd[0]}.data.format=jsonl", "-o", out,
                   "--dry-run")  # fmt: skip
    _check_refused(proc, out, "is a folder but format 'jsonl' reads a file")


def test_dry_run_prints_the_resolved_recipe(tmp_path: Path) -> None:
    proc = run_cli("distill", str(ROOT / "recipes" / "minilm-bbc-jpqd.yaml"), "-o", tmp_path / "o", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "temperature: 3.0" in proc.stdout and "heads_ratio: 0.5" in proc.stdout
    assert not (tmp_path / "o").exists()


def test_shipped_recipes_validate() -> None:
    recipes = [p for p in sorted((ROOT / "recipes").glob("*.yaml"))
               if any(k in p.name for k in ("distill", "prune", "jpqd"))]  # fmt: skip
    assert len(recipes) >= 3
    for recipe in recipes:
        proc = run_cli("recipe", "validate", recipe)
        assert proc.returncode == 0, proc.stderr


def test_an_ir_from_prune_or_distill_stands_for_its_torch_twin(tmp_path: Path) -> None:
    """`ovtool run` chains prune → distill: the IR in OUT/model leads to the PyTorch model in OUT/torch."""
    from ovtool.errors import UserError
    from ovtool.training.models import check_torch_source

    _tiny_ir(tmp_path / "model")
    with pytest.raises(UserError, match="not an OpenVINO IR"):
        check_torch_source(str(tmp_path / "model"), "distill")
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "config.json").write_text('{"model_type": "bert"}')
    assert check_torch_source(str(tmp_path / "model"), "distill") == tmp_path / "torch"
    assert check_torch_source(str(tmp_path / "model" / "openvino_model.xml"), "distill") == tmp_path / "torch"
