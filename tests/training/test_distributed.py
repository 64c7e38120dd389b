"""Distill on several processes (issue #16 §1), for real: 2 gloo processes on the CPU, the BBC MiniLM teacher.

ovtool starting the processes (`--launcher torchrun`), ovtool started under the user's torchrun, a rank
killed mid-training, the launching process terminated, and the bad inputs. Schedules are short (the
machine has 2 cores); one thread per process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BBC_DIR, MINILM_BBC_DIR, MINILM_DIR, run_cli

ENV = {"OMP_NUM_THREADS": "1"}
BASE = ["-m", MINILM_BBC_DIR, "--data", BBC_DIR, "--student-layers", "3", "--no-cache"]
SHORT = ["--set", "distill.training={max_steps: 6, batch_size: 8, train_samples: 96, eval_samples: 40, "
         "max_length: 64}", "--set", "distill.measure_speed=false"]  # fmt: skip
TWO = ["--launcher", "torchrun", "--nproc", "2"]


def _finished_bars(stderr: str) -> int:
    return sum("Loading weights: 100%" in line for line in stderr.replace("\r", "\n").splitlines())


def _schedule(batch: int) -> list[str]:
    """One epoch over 400 samples at effective batch 16 (25 optimizer steps), evaluated on 222 test texts."""
    training = (f"{{epochs: 1, learning_rate: 1.0e-4, batch_size: {batch}, train_samples: 400, eval_samples: 300, "
                "max_length: 64}")  # fmt: skip
    return ["--set", f"distill.training={training}", "--set", "distill.measure_speed=false"]


def _stage(out: Path) -> dict:
    data = json.loads((out / "run.json").read_text())
    assert data["status"] == "ok"
    return data["stages"][0]


def _leftovers(folder: Path) -> list[str]:
    """Staging folders, lock files or other outputs beside OUT (there must be none after a run)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".ovtool"))


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_two_gloo_processes_publish_once_and_match_one_process(tmp_path: Path, assets: Path) -> None:
    two, one = tmp_path / "two", tmp_path / "one"
    proc = run_cli("distill", *BASE, "-o", two, *TWO, *_schedule(8), env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("published ") == 1  # rank 0 published; nothing else did
    single = run_cli("distill", *BASE, "-o", one, *_schedule(16), env={"OMP_NUM_THREADS": "2"})
    assert single.returncode == 0, single.stderr[-3000:]
    # rank 1 shows no library progress bars: as many finished "Loading weights" bars as one process shows
    assert _finished_bars(proc.stderr) == _finished_bars(single.stderr) > 0
    assert (two / "model" / "openvino_model.xml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"] and _leftovers(tmp_path) == []
    s2, s1 = _stage(two), _stage(one)
    d = s2["details"]["distributed"]
    assert (d["world_size"], d["backend"], d["launcher"], d["started_by"]) == (2, "gloo", "torchrun", "ovtool")
    assert (d["batch_size_per_process"], d["effective_batch_size"]) == (8, 16)
    assert [r["rank"] for r in d["per_rank_throughput"]] == [0, 1]
    assert all(r["samples"] == 25 * 8 and r["samples_per_second"] > 0 for r in d["per_rank_throughput"])
    assert s2["metrics"]["training_throughput"]["value"] > 0
    assert s1["details"]["distributed"]["world_size"] == 1
    # the same effective batch: the same number of optimizer steps, and the same accuracy within a point
    assert s2["details"]["training"][0]["steps"] == s1["details"]["training"][0]["steps"] == 25
    a2, a1 = s2["metrics"]["accuracy"]["value"], s1["metrics"]["accuracy"]["value"]
    assert s2["details"]["test_samples"] == s1["details"]["test_samples"] == 222
    assert abs(a2 - a1) <= 1.0, (a2, a1)
    assert a1 > 80  # a real student, not two equally broken runs


@pytest.mark.slow
def test_under_the_users_torchrun_rank_0_publishes_once(tmp_path: Path, assets: Path) -> None:
    from ovtool.out_policy import write_marker

    out = tmp_path / "out"
    out.mkdir()
    write_marker(out)  # an OUT an earlier run published: --overwrite may replace it (rank 0 does, once)
    (out / "old.txt").write_text("previous run")
    torchrun = Path(sys.executable).with_name("torchrun")
    ovtool = Path(sys.executable).with_name("ovtool")
    proc = subprocess.run(
        [str(torchrun), "--nproc-per-node", "2", str(ovtool), "distill", *map(str, BASE), "-o", str(out),
         "--overwrite", *SHORT],
        capture_output=True, text=True, env={**os.environ, **ENV}, timeout=1200, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("published ") == 1
    assert not (out / "old.txt").exists() and (out / "model" / "openvino_model.xml").exists()
    assert _leftovers(tmp_path) == []
    d = _stage(out)["details"]["distributed"]
    assert (d["world_size"], d["backend"], d["launcher"], d["started_by"]) == (2, "gloo", "torchrun", "user")


@pytest.mark.slow
def test_a_killed_rank_fails_the_run_naming_it(tmp_path: Path, assets: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("distill", *BASE, "-o", out, *TWO, *SHORT, env={**ENV, "OVTOOL_TEST_RANK_FAULT": "1:2:kill"})
    assert proc.returncode == 1, proc.stderr[-3000:]
    line = _last_line(proc.stderr)
    assert line.startswith("error: rank 1 of 2 was killed by SIGKILL during training"), line
    assert "Traceback" not in proc.stderr
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.slow
def test_a_failing_rank_fails_the_run_with_its_error(tmp_path: Path, assets: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("distill", *BASE, "-o", out, *TWO, *SHORT, env={**ENV, "OVTOOL_TEST_RANK_FAULT": "1:2:raise"})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert _last_line(proc.stderr) == "error: rank 1 of 2 failed: RuntimeError: test fault at step 2"
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.slow
def test_sigterm_of_the_launching_process_stops_every_worker(tmp_path: Path, assets: Path) -> None:
    tmp = tmp_path / "tmp"  # the job folder (with the workers' pid files) is made here
    tmp.mkdir()
    out = tmp_path / "work" / "out"
    exe = Path(sys.executable).with_name("ovtool")
    proc = subprocess.Popen(
        [str(exe), "distill", *map(str, BASE), "-o", str(out), *TWO, *SHORT],
        env={**os.environ, **ENV, "TMPDIR": str(tmp)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    pids: list[int] = []
    while time.monotonic() < deadline and len(pids) < 2:
        time.sleep(0.5)
        pids = [int(p.read_text()) for p in tmp.glob("ovtool-dist-*/rank*.pid") if p.read_text().strip()]
    assert len(pids) == 2, "the workers did not start"
    time.sleep(5)  # loading the models
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-3000:]
    assert _last_line(stderr) == "error: terminated; nothing was published"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not out.exists() and _leftovers(out.parent) == []
    assert list(tmp.glob("ovtool-dist-*")) == []


HIDE_ACCELERATE = """import sys
from importlib.machinery import PathFinder


class _Hidden(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        return None if name.partition(".")[0] == "accelerate" else PathFinder.find_spec(name, path, target)


sys.meta_path[:] = [_Hidden if finder is PathFinder else finder for finder in sys.meta_path]
"""


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--launcher", "torchrun", "--nproc", "0"], {}, "distill.distributed.nproc: Input should be greater than 0"),
        (["--launcher", "bogus", "--nproc", "2"], {}, "Invalid value for '--launcher': 'bogus'"),
        (["--launcher", "torchrun", "--nproc", "2", "--node-rank", "1"], {}, "node_rank needs nnodes"),
        (["--nproc", "2"], {}, "nproc: only with launcher"),
        (["--launcher", "torchrun", "--nproc", "2", "--nnodes", "2", "--node-rank", "1"], {}, "needs master_addr"),
        (["--launcher", "torchrun", "--nproc", "2"], {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"},
         "ovtool already runs under a launcher (WORLD_SIZE=2)"),
        (["--launcher", "accelerate", "--nproc", "2"], {"PYTHONPATH": "HIDE"},
         "--launcher accelerate needs accelerate (not installed)"),
    ],
)  # fmt: skip
def test_bad_distributed_input_exits_2_in_one_line(tmp_path: Path, args: list[str], env: dict[str, str],
                                                   needle: str) -> None:  # fmt: skip
    if env.get("PYTHONPATH") == "HIDE":
        (tmp_path / "hide").mkdir()
        (tmp_path / "hide" / "sitecustomize.py").write_text(HIDE_ACCELERATE)
        env = {"PYTHONPATH": str(tmp_path / "hide")}
    out = tmp_path / "out"
    proc = run_cli("distill", "-m", MINILM_DIR, "--data", BBC_DIR, "-o", out, *args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


def test_prune_refuses_a_launcher_with_nothing_to_train(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("prune", "-m", MINILM_DIR, "--data", BBC_DIR, "--heads-ratio", "0.5", "-o", out, *TWO)
    assert proc.returncode == 2 and "nothing is trained without `recovery:`" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
