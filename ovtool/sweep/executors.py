"""How trials run: the `Executor` protocol, `run_trial` (the one way a trial runs), the local executor.

Every executor runs a trial the same way — `ovtool run TRIAL_RECIPE -o OUT/trials/<id> --overwrite`
in a subprocess — so a trial is a normal run: it publishes atomically, writes its own run.json, and
hits the stage cache like any other run. Executors differ only in *where* `run_trial` is called
(in sequence, in N local processes, as Ray tasks).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from ovtool.artifacts import write_atomic

TRIAL_RECIPE_SUFFIX = ".yaml"
TRIAL_LOG_SUFFIX = ".log"


@dataclass(frozen=True)
class TrialJob:
    """One trial to run: its id, its resolved recipe (YAML text), where it publishes, its thread budget.

    `threads` None: the trial may use every core (trials run one at a time).
    """

    id: str
    recipe_yaml: str
    out_dir: Path
    threads: int | None


@dataclass(frozen=True)
class TrialOutcome:
    """What a trial left: `ok` = it ran to the end and published its run.json (exit 0, or 3 when a gate
    was not met: run.json `status` says which); otherwise `error` is the last error line of its log."""

    id: str
    ok: bool
    exit_code: int
    run_json: dict[str, Any] | None
    error: str | None


class Executor(Protocol):
    """Runs trials; `run` yields each outcome as its trial finishes (in any order)."""

    def run(self, jobs: list[TrialJob]) -> Iterator[TrialOutcome]: ...


def with_threads(recipe_yaml: str, threads: int | None) -> str:
    """The recipe text with `threads` set where the recipe left a thread setting open (see set_threads)."""
    if threads is None:
        return recipe_yaml
    return yaml.safe_dump(set_threads(yaml.safe_load(recipe_yaml), threads), sort_keys=False)


def set_threads(data: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """`data` (a raw recipe) with benchmark.threads / generate.performance.threads set where left open.

    Those INFERENCE_NUM_THREADS settings are the only thread knobs ovtool exposes; quantization
    (NNCF) and conversion use the cores they find. Idempotent: a value already set is kept.
    """
    if threads is None:
        return data
    bench = data.get("benchmark")
    if isinstance(bench, dict) and bench.get("threads") is None:
        bench["threads"] = threads
    generate = data.get("generate")
    if isinstance(generate, dict):
        perf = generate.get("performance") or {}
        generate["performance"] = perf
        if perf.get("threads") is None:
            perf["threads"] = threads
    return data


def trial_files(job: TrialJob) -> tuple[Path, Path]:
    """The trial's recipe file and log, beside its OUT (`OUT/trials/<id>.yaml`, `<id>.log`)."""
    return (
        job.out_dir.with_name(job.out_dir.name + TRIAL_RECIPE_SUFFIX),
        job.out_dir.with_name(job.out_dir.name + TRIAL_LOG_SUFFIX),
    )


def read_run_json(out_dir: Path) -> dict[str, Any] | None:
    """The trial's published run.json, or None (not published, or unreadable)."""
    try:
        data = json.loads((out_dir / "run.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _last_error_line(log: Path, limit: int = 300) -> str | None:
    """The trial's one-line error: from its log's last `error:` line to the end (a message may wrap)."""
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
        starts = [i for i, line in enumerate(lines) if line.startswith("error:")]
        if not starts:
            return lines[-1][:limit] if lines else None
        text = " ".join(lines[starts[-1]:]).removeprefix("error:").strip()
        return text if len(text) <= limit else text[: limit - 1] + "…"
    return None


def run_trial(job: TrialJob, running: set[subprocess.Popen[bytes]] | None = None) -> TrialOutcome:
    """Run one trial as `ovtool run` in a subprocess; its stderr goes to `OUT/trials/<id>.log`.

    `--overwrite` lets a re-run replace a trial that published but did not finish ok (a gate
    failed): ovtool only ever replaces a folder it published. Ctrl-C reaches the child too (same
    process group); the child's own cleanup runs and the interrupt is re-raised here. `running`
    holds the child while it runs, for a caller in another thread to stop it (`--jobs N`).
    """
    recipe, log = trial_files(job)
    recipe.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(recipe, with_threads(job.recipe_yaml, job.threads))
    argv = [sys.executable, "-m", "ovtool", "run", str(recipe), "-o", str(job.out_dir), "--overwrite"]
    with log.open("w") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
        if running is not None:
            running.add(proc)
        try:
            code = proc.wait()
        except BaseException:
            _stop([proc])
            raise
        finally:
            if running is not None:
                running.discard(proc)
    run_json = read_run_json(job.out_dir) if code in (0, 3) else None
    ok = run_json is not None
    error = None if ok else (_last_error_line(log) or f"ovtool run exited {code}")
    return TrialOutcome(id=job.id, ok=ok, exit_code=code, run_json=run_json, error=error)


def _stop(procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """End trials cleanly: a terminal's Ctrl-C reached them already; else SIGTERM; SIGKILL as a last resort.

    SIGINT/SIGTERM let each child's `ovtool run` remove its staging folder (a kill leaves it for the
    next run of that trial to clean). The grace periods run for all the children at once.
    """
    for step in ("terminate", "kill"):
        end = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, end - time.monotonic()))
        alive = [proc for proc in procs if proc.poll() is None]
        if not alive:
            return
        for proc in alive:
            getattr(proc, step)()
    for proc in procs:
        proc.wait()


class LocalExecutor:
    """Trials on this machine: one at a time, or `jobs` subprocesses at once."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, jobs)

    def run(self, jobs: list[TrialJob]) -> Iterator[TrialOutcome]:
        if self.jobs == 1:
            for job in jobs:
                yield run_trial(job)
            return
        pending = list(reversed(jobs))
        children: set[subprocess.Popen[bytes]] = set()
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:  # threads only wait on subprocesses
            running: set[Future[TrialOutcome]] = set()
            try:
                while pending or running:
                    while pending and len(running) < self.jobs:
                        running.add(pool.submit(run_trial, pending.pop(), children))
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            except BaseException:
                # Ctrl-C/SIGTERM lands in this thread, not in the workers waiting on their trials: stop the
                # trials here, or leaving the pool would wait for them to run to the end (a trial that
                # was just starting joins `children` a moment later: stop again until every worker is back)
                pending.clear()
                while running:
                    _stop(list(children))
                    _, running = wait(running, timeout=0.5)
                raise


def threads_per_trial(jobs: int) -> int | None:
    """The thread budget of each of `jobs` concurrent trials: the cores split evenly (None for one job)."""
    if jobs <= 1:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // jobs)


def make_executor(name: str, jobs: int) -> Executor:
    """The executor a sweep asked for; `ray` lives in ovtool/sweep/ray_executor.py (`RayExecutor()`)."""
    if name == "ray":
        from ovtool.sweep.ray_executor import RayExecutor  # type: ignore[import-not-found,unused-ignore]

        return RayExecutor()  # type: ignore[no-any-return,unused-ignore]
    return LocalExecutor(jobs)
