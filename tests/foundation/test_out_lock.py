"""One run per OUT: a second ovtool run into the same OUT exits 2 at once, or waits with --wait.

Deterministic: run A is frozen (SIGSTOP) while it holds OUT's lock, so run B always meets it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import NUDENET_ONNX

EXE = Path(sys.executable).with_name("ovtool")


def start(out: Path, log: Path, *extra: str) -> subprocess.Popen[str]:
    """`ovtool convert` in the background, its stderr in `log` (read while it runs)."""
    with log.open("w") as err:
        return subprocess.Popen(
            [str(EXE), "convert", "-m", str(NUDENET_ONNX), "-o", str(out), *extra],
            stdout=subprocess.DEVNULL, stderr=err, text=True,
        )  # fmt: skip


def wait_for(condition, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".ovtool-"))


def frozen_holder(tmp_path: Path, out: Path) -> subprocess.Popen[str]:
    """Run A, stopped while it works in its staging folder (so it holds OUT's lock)."""
    holder = start(out, tmp_path / "a.log")
    wait_for(lambda: any(n.startswith(".ovtool-staging-") for n in leftovers(tmp_path)) or holder.poll() is not None,
             "run A to start writing")  # fmt: skip
    os.kill(holder.pid, signal.SIGSTOP)
    assert holder.poll() is None, "run A finished before it could be paused"
    return holder


def test_second_run_exits_2_naming_the_holder_then_waits_with_wait(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = frozen_holder(tmp_path, out)
    try:
        started = time.monotonic()
        busy = subprocess.run([str(EXE), "convert", "-m", str(NUDENET_ONNX), "-o", str(out)],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert busy.returncode == 2, busy.stderr
        assert f"is being written by another ovtool run (pid {holder.pid}); pass --wait" in busy.stderr
        assert time.monotonic() - started < 60  # at once, not after a conversion
        recipe = tmp_path / "r.yaml"  # `ovtool run` (stage sub-folders) takes the same one lock for OUT
        recipe.write_text(f"model: {NUDENET_ONNX}\noutput: {out}\nconvert: {{}}\n")
        busy = subprocess.run([str(EXE), "run", str(recipe)], capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
        assert busy.returncode == 2 and f"(pid {holder.pid})" in busy.stderr, busy.stderr

        waiter = start(out, tmp_path / "b.log", "--wait", "--overwrite")
        wait_for(lambda: "waiting" in (tmp_path / "b.log").read_text() or waiter.poll() is not None, "run B to wait")
        assert waiter.poll() is None, (tmp_path / "b.log").read_text()
        assert f"pid {holder.pid}" in (tmp_path / "b.log").read_text()
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    assert holder.wait(timeout=300) == 0, (tmp_path / "a.log").read_text()
    assert waiter.wait(timeout=300) == 0, (tmp_path / "b.log").read_text()
    # B ran after A and replaced A's OUT: both published whole, nothing orphaned
    assert "published" in (tmp_path / "b.log").read_text()
    assert json.loads((out / "run.json").read_text())["status"] == "ok"
    assert (out / "model" / "openvino_model.xml").exists()
    assert leftovers(tmp_path) == []


def test_waiting_run_without_overwrite_then_finds_out_taken(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = frozen_holder(tmp_path, out)
    try:
        waiter = start(out, tmp_path / "b.log", "--wait")
        wait_for(lambda: "waiting" in (tmp_path / "b.log").read_text() or waiter.poll() is not None, "run B to wait")
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    assert holder.wait(timeout=300) == 0
    assert waiter.wait(timeout=300) == 2
    assert "is not empty: pass --overwrite" in (tmp_path / "b.log").read_text()
    assert leftovers(tmp_path) == []


def test_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = frozen_holder(tmp_path, out)
    holder.kill()
    holder.wait(timeout=60)
    proc = subprocess.run([str(EXE), "convert", "-m", str(NUDENET_ONNX), "-o", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "model" / "openvino_model.xml").exists()
    assert not (tmp_path / f".ovtool-lock-{out.name}").exists()
