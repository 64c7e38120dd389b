"""SIGINT, SIGTERM and SIGKILL at several points of a real conversion, through the installed entry point.

Each run overwrites a previous OUT. The signal goes to the whole process group, as a terminal's
Ctrl-C does. After it: the exit code is 128 + the signal (-9 for SIGKILL), OUT is a complete,
loadable IR (the previous one, or the new one when the signal came during publish — which holds
signals off until OUT is swapped), there is no traceback, and nothing is left in the staging
folder's parent or in TMPDIR — at once for SIGINT/SIGTERM, after the next run (which says it
removed the leftovers) for SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MINILM_DIR, NUDENET_ONNX, run_cli

STAGING = ".ovtool-staging-"


@pytest.fixture(scope="module")
def previous_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OUT published by a real conversion; each test copies it and runs over it."""
    out = tmp_path_factory.mktemp("previous") / "out"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _staging(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith(STAGING)]


def _ovtool_scratch(tmp: Path) -> list[Path]:
    return [p for p in tmp.iterdir() if p.name.startswith("ovtool-")]


def _loadable(out: Path) -> None:
    import openvino as ov

    model = ov.Core().read_model(out / "model" / "openvino_model.xml")
    assert model.inputs


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
POINTS = {
    # where: (model, wait for this before the signal, extra env)
    "early": (NUDENET_ONNX, "staging", {}),
    "mid-export": (MINILM_DIR, "export", {}),
    # the pause is inside the section that holds signals off: a SIGINT/SIGTERM waits it out
    "publish": (NUDENET_ONNX, "publish", {"OVTOOL_TEST_PUBLISH_PAUSE": "5"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("sig_name", list(SIGNALS))
@pytest.mark.parametrize("point", list(POINTS))
def test_signal_leaves_a_loadable_out_and_no_leftovers(
    point: str, sig_name: str, previous_out: Path, tmp_path: Path
) -> None:
    sig = SIGNALS[sig_name]
    model, wait_for, extra_env = POINTS[point]
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    shutil.copytree(previous_out, out, symlinks=True)
    before = (out / "run.json").read_text()
    tmp = tmp_path / "tmp"  # TMPDIR of its own: scratch left by this run only
    tmp.mkdir()
    err_path = tmp_path / "stderr.txt"
    env = {**os.environ, "TMPDIR": str(tmp), **extra_env}
    exe = Path(sys.executable).with_name("ovtool")
    with open(err_path, "w") as err:
        proc = subprocess.Popen([str(exe), "convert", "-m", str(model), "-o", str(out), "--overwrite", "--no-cache"],
                                stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True)  # fmt: skip
        try:
            # the run's own staging folder, not the probe preflight makes and removes at once
            _wait_for(lambda: any("-probe-" not in p.name for p in _staging(runs)) or proc.poll() is not None,
                      120, "the staging folder")  # fmt: skip
            if wait_for == "export":  # optimum's export is under way (it takes several seconds)
                _wait_for(lambda: "export with optimum-intel" in err_path.read_text(), 120, "the export")
                time.sleep(2)
            elif wait_for == "publish":  # inside publish, between its two renames
                _wait_for(lambda: any("-old-" in p.name for p in _staging(runs)), 120, "publish")
            assert proc.poll() is None, err_path.read_text()
            os.killpg(proc.pid, sig)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    stderr = err_path.read_text()
    assert "Traceback" not in stderr, stderr
    if sig == signal.SIGKILL:
        assert proc.returncode == -9
        assert _staging(runs), "SIGKILL leaves its staging folder for the next run"
        nxt = run_cli("convert", "-m", NUDENET_ONNX, "-o", runs / "next", "--no-cache", env={"TMPDIR": str(tmp)})
        assert nxt.returncode == 0, nxt.stderr
        assert f"leftover of a killed run (pid {proc.pid})" in nxt.stderr, nxt.stderr
        if point == "publish":  # killed between the renames: the previous OUT is put back
            assert f"put back {out}" in nxt.stderr, nxt.stderr
        assert "Traceback" not in nxt.stderr
    else:
        verb = "interrupted" if sig == signal.SIGINT else "terminated"
        assert proc.returncode == 128 + sig, stderr
        if point == "publish":
            assert f"{verb} after publishing {out}" in stderr, stderr
        else:
            assert f"{verb}; nothing was published" in stderr, stderr
    if point == "publish" and sig != signal.SIGKILL:
        assert (out / "run.json").read_text() != before  # the new OUT, complete
    else:
        assert (out / "run.json").read_text() == before  # the previous OUT, untouched
    _loadable(out)
    assert not _staging(runs), _staging(runs)
    assert not _ovtool_scratch(tmp), _ovtool_scratch(tmp)


def test_no_openvino_telemetry() -> None:
    """ovtool's process loads OpenVINO's and NNCF's no-op telemetry stubs, never openvino_telemetry."""
    code = (
        "import sys\nsys.argv = ['ovtool', '--version']\nfrom ovtool.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import nncf.telemetry.wrapper as nncf_tm\nimport openvino.tools.ovc.convert_impl as ovc\n"
        "print('TM', isinstance(nncf_tm.telemetry, nncf_tm.NNCFTelemetryStub), ovc.tm.__name__,\n"
        "      sys.modules.get('openvino_telemetry'))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert proc.stdout.rsplit("TM ", 1)[1].split() == ["True", "openvino.tools.ovc.telemetry_stub", "None"], proc.stdout
