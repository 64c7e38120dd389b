"""Starting the workers of a `--launcher` run, stopping them, and naming the rank that failed.

`launch` runs `python -m ovtool.training.launch LAUNCHER FAILURES -- ARGS` in its own session: that
process is the launcher itself (torchrun's or accelerate's own launch code) with the failed ranks
written to FAILURES as JSON instead of torchrun's multi-line report; the ovtool process reads it
(`_failure`) and raises one line naming the rank that failed first, and why.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.errors import UserError, WorkFailed, first_line
from ovtool.recipe.sections.distill import DistributedSpec
from ovtool.training.distributed import LAUNCHER_ENV, PARENT_ENV

FAILURES_FILE = "failures.json"
STOP_SECONDS = 20.0  # after SIGTERM, how long the launcher gets to stop its workers before SIGKILL


def _launcher_args(spec: DistributedSpec, module: str, module_args: list[str]) -> list[str]:
    nodes, nproc = spec.nnodes or 1, spec.nproc or 1
    if spec.launcher == "torchrun":
        args = [f"--nproc-per-node={nproc}", f"--nnodes={nodes}", "--max-restarts=0"]
        if nodes > 1 or spec.master_port is not None:  # one node, no port: a free port (c10d on localhost:0)
            args += [f"--node-rank={spec.node_rank or 0}", f"--master-addr={spec.master_addr or '127.0.0.1'}",
                     f"--master-port={spec.master_port or 29500}"]  # fmt: skip
        return [*args, "--module", module, *module_args]
    port = spec.master_port if spec.master_port is not None else (0 if nodes == 1 else 29500)  # 0: a free port
    args = ["--multi_gpu", f"--num_processes={nproc * nodes}", f"--num_machines={nodes}", f"--main_process_port={port}"]
    if nodes > 1:
        args += [f"--machine_rank={spec.node_rank or 0}", f"--main_process_ip={spec.master_addr}"]
    return [*args, "--module", module, *module_args]


def launch(spec: DistributedSpec, module: str, module_args: list[str], job_dir: Path) -> None:
    """Run `python -m module ARGS` on `spec.nproc` processes through the launcher; wait for them.

    The launcher runs in its own session, so a terminal's Ctrl-C reaches only ovtool, which then
    stops it (SIGTERM: torchrun stops its workers) and SIGKILLs whatever worker is left. A failed rank
    raises WorkFailed (UserError when that rank's error was bad input) naming the rank.
    """
    assert spec.launcher is not None
    cmd = [sys.executable, "-m", "ovtool.training.launch", spec.launcher, str(job_dir / FAILURES_FILE),
           "--", *_launcher_args(spec, module, module_args)]  # fmt: skip
    env = {**os.environ, PARENT_ENV: str(os.getpid()), LAUNCHER_ENV: spec.launcher}
    if (spec.nproc or 1) > 1:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // (spec.nproc or 1))))
    console.detail(f"launch: {' '.join(cmd[3:])}")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        code = proc.wait()
    except BaseException:
        _stop(proc, job_dir)
        raise
    if code != 0:
        raise _failure(job_dir, code, (spec.nproc or 1) * (spec.nnodes or 1))


def _stop(proc: subprocess.Popen[bytes], job_dir: Path) -> None:
    """Stop the launcher and every worker it started; signals are held off meanwhile (bounded)."""
    from ovtool.interrupts import deferred

    with deferred():
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pid in worker_pids(job_dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def worker_pids(job_dir: Path) -> list[int]:
    """The pids the workers of this job wrote at start (rankN.pid)."""
    pids = []
    for file in sorted(job_dir.glob("rank*.pid")):
        with contextlib.suppress(ValueError, OSError):
            pids.append(int(file.read_text().strip()))
    return pids


def _failure(job_dir: Path, code: int, world: int) -> WorkFailed:
    """The one-line error of a failed launch: the rank that failed first, and why."""
    reports = []
    for file in job_dir.glob("error-rank*.json"):
        with contextlib.suppress(ValueError, OSError):
            reports.append(json.loads(file.read_text()))
    launch_info: dict[str, Any] = {}
    with contextlib.suppress(ValueError, OSError):
        launch_info = json.loads((job_dir / FAILURES_FILE).read_text())
    own = sorted((r for r in reports if not r.get("peer")), key=lambda r: r["time"])
    if own:
        first = own[0]
        error_type = UserError if first.get("exit_code") == 2 else WorkFailed
        return error_type(f"rank {first['rank']} of {world} failed: {first['message']}")
    # no rank failed on its own: one died from a signal (the launcher's own SIGTERMs are its teardown)
    failures = launch_info.get("failures", [])
    killed = [f for f in failures if f.get("signal") and f["signal"] != "SIGTERM"] or \
        [f for f in failures if f.get("exitcode", 0) != 0 and not f.get("signal")]  # fmt: skip
    if killed:
        f = min(killed, key=lambda f: (f.get("timestamp", 0), f["rank"]))
        how = f"was killed by {f['signal']}" if f.get("signal") else f"exited with code {f['exitcode']}"
        return WorkFailed(f"rank {f['rank']} of {world} {how} during training (pid {f.get('pid')}); nothing published")
    if reports:
        first = min(reports, key=lambda r: r["time"])
        return WorkFailed(f"rank {first['rank']} of {world} failed: {first['message']}")
    if launch_info.get("launcher_error"):
        return WorkFailed(f"the launcher failed: {launch_info['launcher_error']}")
    return WorkFailed(f"the training processes failed (launcher exit code {code}); run with -v for the launch")


# --- the launcher process (python -m ovtool.training.launch LAUNCHER FAILURES -- ARGS) ---------


@dataclass
class _Failures:
    failures: list[dict[str, Any]] = field(default_factory=list)
    launcher_error: str | None = None


def _run_launcher(launcher: str, argv: list[str]) -> None:
    if launcher == "torchrun":
        from torch.distributed.run import parse_args, run

        run(parse_args(argv))
        return
    from accelerate.commands.launch import launch_command, launch_command_parser

    launch_command(launch_command_parser().parse_args(argv))


def main(argv: list[str]) -> int:
    """The launcher's own process: run it, write which ranks failed (and how) as JSON."""
    launcher, failures_file, _sep, *rest = argv
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    out = _Failures()
    code = 0
    try:
        _run_launcher(launcher, rest)
    except ChildFailedError as exc:
        for rank, f in exc.failures.items():
            out.failures.append({"rank": rank, "local_rank": f.local_rank, "exitcode": f.exitcode, "pid": f.pid,
                                 "signal": f.signal_name() if f.exitcode < 0 else None,
                                 "timestamp": f.timestamp, "message": f.message})  # fmt: skip
        code = 1
    except Exception as exc:  # the launcher's own failure (a busy port, a rendezvous that timed out)
        out.launcher_error = f"{type(exc).__name__}: {first_line(exc)}"
        code = 1
    if code:
        Path(failures_file).write_text(json.dumps(out.__dict__))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
