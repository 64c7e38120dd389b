"""Owner-marked scratch folders: a killed run's leftovers are found by PID and removed (or put back)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ovtool import interrupts, scratch
from tests.conftest import run_cli


def _dead_owned_dir(parent: Path, prefix: str, restore_to: Path | None = None) -> tuple[Path, int]:
    """A folder marked by a real process that has exited (what SIGKILL leaves behind)."""
    code = (
        "import os, sys\nfrom pathlib import Path\nfrom ovtool import scratch\n"
        f"d = scratch.owned_dir({prefix!r}, parent=Path({str(parent)!r}))\n"
        f"restore = {str(restore_to) if restore_to else None!r}\n"
        "if restore:\n    scratch.write_owner(d, restore_to=Path(restore))\n"
        "(d / 'payload.bin').write_bytes(b'x' * 1000)\n"
        "print(d, os.getpid())\n"
        "os._exit(0)  # no cleanup, as after SIGKILL\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    path, pid = proc.stdout.split()
    return Path(path), int(pid)


def test_owned_tempdir_is_marked_and_removed(tmp_path: Path) -> None:
    with scratch.owned_tempdir("ovtool-t-", parent=tmp_path) as folder:
        owner = json.loads((folder / scratch.OWNER_FILE).read_text())
        assert owner["pid"] == os.getpid()
        assert scratch.owner_alive(folder) is True
    assert not folder.exists()


def test_sweep_removes_only_dead_owners(tmp_path: Path) -> None:
    dead, pid = _dead_owned_dir(tmp_path, "ovtool-x-")
    unmarked = tmp_path / "ovtool-unmarked"
    unmarked.mkdir()
    other = tmp_path / "not-ours"
    other.mkdir()
    scratch.write_owner(other)
    with scratch.owned_tempdir("ovtool-live-", parent=tmp_path) as live:
        done = scratch.sweep_dead([tmp_path])
        assert [(d.path, d.pid) for d in done] == [(dead, pid)]
        assert not dead.exists() and live.exists() and unmarked.exists() and other.exists()


def test_reused_pid_is_not_the_owner(tmp_path: Path) -> None:
    folder = tmp_path / "ovtool-reused"
    folder.mkdir()
    scratch.write_owner(folder)
    owner = json.loads((folder / scratch.OWNER_FILE).read_text())
    (folder / scratch.OWNER_FILE).write_text(json.dumps({**owner, "start": "1"}))  # same PID, older process
    assert scratch.owner_alive(folder) is False


def test_killed_publish_puts_the_previous_out_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old, pid = _dead_owned_dir(tmp_path, ".ovtool-staging-out-old-", restore_to=out)
    done = scratch.sweep_everywhere([tmp_path])
    assert [(d.path, d.restore_to) for d in done if d.pid == pid] == [(old, out)]
    assert (out / "payload.bin").exists() and not (out / scratch.OWNER_FILE).exists()
    assert any(f"put back {out}" in line for line in scratch.describe(done))
    # once OUT is back (or a newer OUT took its place), a dead `-old-` folder is only removed
    old2, _ = _dead_owned_dir(tmp_path, ".ovtool-staging-out-old-", restore_to=out)
    scratch.sweep_everywhere([tmp_path])
    assert not old2.exists() and (out / "payload.bin").exists()


def test_clean_command_lists_then_removes(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    runs = tmp_path / "runs"
    runs.mkdir()
    staging, pid = _dead_owned_dir(runs, ".ovtool-staging-out-")
    scratch_dir, pid2 = _dead_owned_dir(tmp, "ovtool-archive-")
    env = {"TMPDIR": str(tmp)}
    listed = run_cli("clean", runs, "--dry-run", env=env)
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == {str(staging), str(scratch_dir)}
    assert staging.exists() and scratch_dir.exists()
    proc = run_cli("clean", runs, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"removed 1 leftover of a killed run (pid {pid}): {staging}" in proc.stderr
    assert f"(pid {pid2}): {scratch_dir}" in proc.stderr
    assert not staging.exists() and not scratch_dir.exists()
    assert run_cli("clean", tmp_path / "nope").returncode == 2


def test_deferred_holds_a_signal_until_the_block_ends() -> None:
    restore = interrupts.install()
    try:
        reached_end = False
        with pytest.raises(interrupts.Interrupted) as caught, interrupts.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # a handler would have run by now if the signal were not held
            reached_end = True
        assert reached_end
        assert caught.value.signum == signal.SIGTERM and caught.value.exit_code == 143
    finally:
        restore()


def test_forked_child_exits_quietly_on_ctrl_c(tmp_path: Path) -> None:
    """The terminal's Ctrl-C reaches a library's forked helper too: no traceback from it."""
    code = (
        "import multiprocessing, time\nfrom ovtool import interrupts\n"
        "interrupts.install()\n"
        "ctx = multiprocessing.get_context('fork')\n"
        "p = ctx.Process(target=time.sleep, args=(60,)); p.start()\n"
        "print('ready', flush=True)\n"
        "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    p.join(20)\n    print('child', p.exitcode)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # the whole process group, as a terminal does
    out, err = proc.communicate(timeout=60)
    assert "child 130" in out, (out, err)
    assert "Traceback" not in err, err
