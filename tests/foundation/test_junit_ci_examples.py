"""examples/ci: the workflows parse and call ovtool as it is; the Makefile re-runs only recipes whose inputs changed."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_cli

CI = ROOT / "examples" / "ci"


def _ovtool_args(command: str) -> list[str]:
    """The arguments of the `ovtool run ...` line of a CI script, with the recipe variable filled in."""
    line = next(ln for ln in command.splitlines() if ln.strip().startswith("ovtool run"))
    return shlex.split(line.replace('"$RECIPE"', "RECIPE"))[1:]


def _check_ovtool_line(args: list[str], recipe: str, tmp_path: Path) -> None:
    """The CI line is valid for this ovtool: a dry run with the same flags (OUT and JUnit moved to tmp) exits 0."""
    assert "--junit" in args and args[args.index("--junit") + 1] == "junit.xml"
    args = [recipe if a == "RECIPE" else a for a in args]
    args[args.index("-o") + 1] = str(tmp_path / "out")
    args[args.index("--junit") + 1] = str(tmp_path / "junit.xml")
    proc = run_cli(*args, "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_github_actions_workflow(tmp_path: Path) -> None:
    flow = yaml.safe_load((CI / "github-actions.yml").read_text())
    assert "pull_request" in flow[True]  # YAML 1.1 reads the key `on` as true
    (job,) = flow["jobs"].values()
    steps = {step.get("name", step.get("uses")): step for step in job["steps"]}
    run = steps["Run the recipe"]["run"]
    _check_ovtool_line(_ovtool_args(run), flow["env"]["RECIPE"], tmp_path)
    after = [s for s in job["steps"] if list(job["steps"]).index(s) > list(job["steps"]).index(steps["Run the recipe"])]
    assert after and all(s["if"].startswith("always()") for s in after)  # also when a gate fails (exit 3)
    uses = {s.get("uses", "").split("@")[0]: s for s in after}
    assert "out/" in uses["actions/upload-artifact"]["with"]["path"]
    assert uses["mikepenz/action-junit-report"]["with"]["report_paths"] == "junit.xml"
    assert "--body-file out/report.md" in steps["report.md as a PR comment"]["run"]


def test_gitlab_job(tmp_path: Path) -> None:
    (job,) = yaml.safe_load((CI / "gitlab-ci.yml").read_text()).values()
    _check_ovtool_line(_ovtool_args("\n".join(job["script"])), job["variables"]["RECIPE"], tmp_path)
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"] == "junit.xml"
    assert "out/" in job["artifacts"]["paths"]
    assert "out/report.md" in job["after_script"][0] and "/notes" in job["after_script"][0]


def _make(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-f", str(CI / "Makefile"), "-C", str(tree), "--no-print-directory", *args],
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip


def _planned(tree: Path) -> list[str]:
    """The recipes `make -n` would run, in order."""
    return [shlex.split(ln)[2] for ln in _make(tree, "-n").stdout.splitlines() if ln.startswith("ovtool run ")]


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_makefile_reruns_only_what_changed(tmp_path: Path) -> None:
    """Recipe + inputs are the prerequisites, OUT/run.json the target (make -q / make -n only: nothing runs)."""
    files = ["recipes/nudenet-int8-quantize.yaml", ".assets/nudenet/320n.onnx",
             ".assets/voc_sample/data_dataset_voc/JPEGImages/a.jpg", "recipes/minilm-bbc-int8-quantize.yaml",
             ".assets/minilm-bbc/model.safetensors", ".assets/bbcnews/data/tech/001.txt"]  # fmt: skip
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (1_000_000, 1_000_000))
    assert _make(tmp_path, "-q").returncode == 1  # nothing ran yet
    assert _planned(tmp_path) == ["recipes/nudenet-int8-quantize.yaml", "recipes/minilm-bbc-int8-quantize.yaml"]
    assert "-o runs/nudenet-int8 --overwrite --junit runs/nudenet-int8.junit.xml" in _make(tmp_path, "-n").stdout
    for out in ("runs/nudenet-int8", "runs/minilm-bbc-int8"):  # as if both ran
        (tmp_path / out).mkdir(parents=True)
        (tmp_path / out / "run.json").write_text("{}")
        os.utime(tmp_path / out / "run.json", (2_000_000, 2_000_000))
    assert _make(tmp_path, "-q").returncode == 0 and _planned(tmp_path) == []
    new_text = tmp_path / ".assets/bbcnews/data/tech/002.txt"  # a file added to one recipe's data
    new_text.write_text("y")
    assert _planned(tmp_path) == ["recipes/minilm-bbc-int8-quantize.yaml"]
    os.utime(new_text, (1_000_000, 1_000_000))
    os.utime(tmp_path / "recipes/nudenet-int8-quantize.yaml", (3_000_000, 3_000_000))  # an edited recipe
    assert _planned(tmp_path) == ["recipes/nudenet-int8-quantize.yaml"]
    assert _make(tmp_path, "-q", "minilm-bbc-int8").returncode == 0  # per-recipe targets
