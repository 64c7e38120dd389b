"""--overwrite replaces only what ovtool published; OUT is never `/`, $HOME, cwd, an input's folder or a link.

Every refusal is exit 2 before any work (so at --dry-run too), naming the folder and why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import MINILM_DIR, NUDENET_ONNX, run_cli


def run_in(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`cd cwd && ovtool ARGS` (run_cli runs in the test's own working directory)."""
    exe = Path(sys.executable).with_name("ovtool")
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False)  # fmt: skip


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(proc: subprocess.CompletedProcess[str], *words: str) -> bool:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    return proc.returncode == 2 and len(errors) == 1 and all(w in errors[0] for w in words)


def publish(out: Path) -> None:
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out)
    assert proc.returncode == 0, proc.stderr


def test_cwd_and_its_parents_are_never_out(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NUDENET_ONNX, work / "model.onnx")
    (work / "notes.txt").write_text("unrelated")
    before = listing(tmp_path)
    for out in (".", "..", str(work)):
        proc = run_in(work, "convert", "-m", "model.onnx", "-o", out, "--overwrite")
        assert refused(proc, "current directory", "choose another -o"), (out, proc.stderr)
    assert refused(run_in(work, "convert", "-m", "model.onnx", "-o", ".", "--dry-run"), "current directory")
    (tmp_path / "empty").mkdir()  # an empty cwd is refused too: publishing renames OUT away
    assert refused(run_in(tmp_path / "empty", "convert", "-m", NUDENET_ONNX, "-o", "."), "current directory")
    (tmp_path / "empty").rmdir()
    assert listing(tmp_path) == before


def test_root_and_home_are_never_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("keep")
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", "/", "--overwrite", "--dry-run")
    assert refused(proc, "output / is the filesystem root")
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", home, "--overwrite", env={"HOME": str(home)})
    assert refused(proc, str(home), "home folder")
    assert (home / ".bashrc").read_text() == "keep" and sorted(p.name for p in home.iterdir()) == [".bashrc"]


def test_out_holding_or_inside_an_input_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(NUDENET_ONNX, models / "model.onnx")
    before = listing(models)
    proc = run_cli("convert", "-m", models / "model.onnx", "-o", models, "--overwrite")
    assert refused(proc, str(models), "input of this run (model)")
    assert listing(models) == before
    # even a folder ovtool published is not replaced while it holds an input of the run
    out = tmp_path / "out"
    publish(out)
    shutil.copy(NUDENET_ONNX, out / "again.onnx")
    proc = run_cli("convert", "-m", out / "again.onnx", "-o", out, "--overwrite")
    assert refused(proc, "again.onnx", "input of this run (model)") and (out / "again.onnx").exists()
    # OUT/recipe.yaml re-run into OUT itself: the recipe file is an input
    proc = run_cli("run", out / "recipe.yaml", "-o", out, "--overwrite")
    assert refused(proc, "the recipe file") and (out / "recipe.yaml").exists()
    # OUT inside an input folder (a Hugging Face model folder), checked at --dry-run
    proc = run_cli("convert", "-m", MINILM_DIR, "-o", MINILM_DIR / "ov", "--dry-run")
    assert refused(proc, "is inside", str(MINILM_DIR.resolve())) and not (MINILM_DIR / "ov").exists()


def test_symlinked_out_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    target = tmp_path / "target"
    publish(target)  # even ovtool's own folder is not replaced through a link
    before = listing(target)
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    for extra in ((), ("--overwrite",), ("--overwrite", "--dry-run")):
        proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", link, *extra)
        assert refused(proc, str(link), "symbolic link"), proc.stderr
    assert link.is_symlink() and listing(target) == before


def test_overwrite_replaces_only_what_ovtool_published(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()  # an empty folder may be OUT without --overwrite
    publish(out)
    marker = json.loads((out / ".ovtool").read_text())
    assert marker["ovtool"]
    before = out.stat().st_ino
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    # replaced: a new folder (the staging folder renamed into place), published with its marker
    assert out.stat().st_ino != before and (out / ".ovtool").exists() and (out / "run.json").exists()
    # an older run (run.json written by ovtool, no marker) may be replaced as well
    (out / ".ovtool").unlink()
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert (out / ".ovtool").exists()
    # a folder ovtool did not write is never replaced, even with a look-alike run.json
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    (theirs / "run.json").write_text('{"status": "ok"}')
    before = listing(theirs)
    for extra in (("--overwrite",), ("--overwrite", "--dry-run")):
        proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", theirs, *extra)
        assert refused(proc, str(theirs), "not written by ovtool"), proc.stderr
    assert listing(theirs) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ovtool-")]


def test_uncreatable_out_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    for out in (tmp_path / "a-file" / "sub", Path("/proc/ovtool-x")):
        for extra in ((), ("--dry-run",)):
            proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, *extra)
            assert refused(proc, f"cannot create the output folder {out}"), proc.stderr
    # a dry run into a folder that does not exist yet creates nothing (its parent is probed, then removed)
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", tmp_path / "new" / "deeper" / "out", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["a-file"]
