"""Trials as Ray tasks: on the cluster `RAY_ADDRESS` names, or on a local Ray instance started here.

Each trial is one Ray task with its own CPU/GPU request; the task calls `run_trial` on its node, so
a trial is the same normal `ovtool run` the local executor makes. Results come back to the driver's
OUT one of two ways:
- shared filesystem: the driver leaves a probe folder (owner-marked, with a random token) in
  `OUT/trials/`; a task that can read it runs the trial straight into `OUT/trials/<id>/`;
- no shared filesystem (or `gather="tar"`): the task runs the trial in its node's scratch and returns
  it packed (trial_archive.py); the driver publishes it as `OUT/trials/<id>/` atomically.

Ray is optional (`pip install 'ovtool[ray]'`): it is imported only inside functions here, and
`check_ray_available()` lets the sweep refuse `executor: ray` (exit 2) before any work.

A local instance listens on loopback only and sends no usage statistics: Ray picks its node address
when it is imported, so `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` (loopback node address) and
`RAY_USAGE_STATS_ENABLED=0` are set before the import, and the address is checked before `ray.init`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ovtool import console, scratch
from ovtool.errors import UserError
from ovtool.sweep.executors import TrialJob, TrialOutcome, read_run_json, run_trial
from ovtool.sweep.trial_archive import PackedTrial, pack_trial, unpack_trial

RAY_MISSING = "sweep executor ray needs `pip install 'ovtool[ray]'`"
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
PROBE_PREFIX = "ovtool-ray-probe-"
TOKEN_FILE = "token"
STOP_GRACE_S = 30.0  # how long a cancelled trial's `ovtool run` gets to remove its staging folder
Gather = Literal["auto", "tar"]


def check_ray_available() -> None:
    """Exit 2 at validation when a sweep asks for `executor: ray` and Ray is not installed.

    find_spec, not an import: importing Ray fixes its node address (see the module docstring)
    and costs ~0.3 s that a `--dry-run` does not need.
    """
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UserError(RAY_MISSING)


@dataclass(frozen=True)
class _TaskResult:
    """What a task sends back: the outcome, and in tar mode the packed trial."""

    outcome: TrialOutcome
    packed: PackedTrial | None = None


@dataclass(frozen=True)
class _Probe:
    folder: Path
    token: str


class RayExecutor:
    """`Executor` over Ray: one task per trial, outcomes yielded as tasks finish (`ray.wait`).

    `address`: a cluster address, "local" for a new local instance, None for `RAY_ADDRESS` or else
    a local instance. `local_cpus`: the CPUs a local instance offers (default: all).
    `gather="tar"` forces the tar path even where OUT is visible from the workers.
    A trial whose job leaves `threads` open gets `num_cpus_per_trial` threads (its CPU request).
    """

    def __init__(self, address: str | None = None, num_cpus_per_trial: float = 1.0, num_gpus_per_trial: float = 0.0,
                 *, gather: Gather = "auto", local_cpus: int | None = None) -> None:  # fmt: skip
        if num_cpus_per_trial < 0 or num_gpus_per_trial < 0:
            raise UserError("ray executor: num_cpus_per_trial and num_gpus_per_trial must be >= 0")
        self.address = address
        self.num_cpus_per_trial = num_cpus_per_trial
        self.num_gpus_per_trial = num_gpus_per_trial
        self.gather = gather
        self.local_cpus = local_cpus

    def run(self, jobs: list[TrialJob]) -> Iterator[TrialOutcome]:
        if not jobs:
            return
        check_ray_available()
        started = connect(self.address, self.local_cpus)
        import ray

        probes: dict[Path, _Probe] = {}
        try:
            self._check_resources(ours=started and _target(self.address) == "local")
            if self.gather == "auto":
                probes = {parent: _make_probe(parent) for parent in {job.out_dir.parent for job in jobs}}
            task = ray.remote(_trial_task).options(num_cpus=self.num_cpus_per_trial, num_gpus=self.num_gpus_per_trial)
            pending = {task.remote(self._job(job), probes.get(job.out_dir.parent)): job for job in jobs}
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1)
                    for ref in done:
                        yield _gather(ref, pending.pop(ref))
            except BaseException:  # Ctrl-C, SIGTERM, or the sweep stopped iterating: no trial outlives it
                _cancel(list(pending))
                raise
        finally:
            for probe in probes.values():
                scratch.remove(probe.folder)
            if started:
                disconnect()

    def _job(self, job: TrialJob) -> TrialJob:
        if job.threads is None and self.num_cpus_per_trial >= 1:
            return replace(job, threads=int(self.num_cpus_per_trial))
        return job

    def _check_resources(self, ours: bool) -> None:
        """A request no node can meet would wait forever: refuse it on our own instance, warn on a cluster
        (an autoscaler may still add the node)."""
        import ray

        have = ray.cluster_resources()
        for name, want in (("CPU", self.num_cpus_per_trial), ("GPU", self.num_gpus_per_trial)):
            if want > have.get(name, 0.0):
                message = (f"the Ray cluster has {have.get(name, 0.0):g} {name}(s); each trial asks for {want:g} "
                           f"(num_{name.lower()}s_per_trial)")  # fmt: skip
                if ours:
                    raise UserError(message)
                console.warn(f"{message}; trials wait until the cluster has them")


def _target(address: str | None) -> str:
    return address or os.environ.get("RAY_ADDRESS") or "local"


@contextlib.contextmanager
def _keep_sigterm() -> Iterator[None]:
    """Ray's driver installs its own SIGTERM handler; ovtool's goes back so SIGTERM still unwinds (143)."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, handler)


def connect(address: str | None = None, local_cpus: int | None = None) -> bool:
    """Connect to `address` / RAY_ADDRESS, or start a loopback-only local instance.

    Returns True when this call initialised Ray (the caller then calls `disconnect`); False when
    Ray was already initialised in this process (a test module's instance, an embedding program).
    """
    target = _target(address)
    if target == "local":
        os.environ.update(LOCAL_ENV)  # before the import: Ray reads them then, and its processes inherit them
    import ray

    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"configure_logging": False, "log_to_driver": False}
    if target == "local":
        node_ip = ray.util.get_node_ip_address()
        if not ipaddress.ip_address(node_ip).is_loopback:
            raise UserError(f"a local Ray instance would listen on {node_ip}, not loopback: Ray was imported "
                            "before ovtool could set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0; set it in the "
                            "environment")  # fmt: skip
        options.update(num_cpus=local_cpus, include_dashboard=False)
    try:
        with _keep_sigterm():
            ray.init(address=target, **options)
    except ConnectionError as exc:
        raise UserError(f"cannot reach the Ray cluster at {target} (RAY_ADDRESS): {exc}") from exc
    return True


def disconnect() -> None:
    """Shut our local instance down (or leave the cluster); keep ovtool's SIGTERM handler.

    ray.shutdown() can return while the local instance's agents (dashboard, runtime-env) still run,
    most often right after Ctrl-C cancelled tasks; they would outlive the sweep, and Ray's own exit
    handlers then meet them and may end the process with status 1 instead of the 130 of a Ctrl-C.
    So the Ray processes this process started are waited for, then terminated, then killed.
    """
    import psutil
    import ray

    ours = [p for p in psutil.Process().children(recursive=True) if _is_ray_process(p)]
    with _keep_sigterm():
        ray.shutdown()
    _, alive = psutil.wait_procs(ours, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(alive, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _is_ray_process(proc: Any) -> bool:
    """A process of Ray's (raylet, GCS, workers, agents), not a trial's `ovtool run`."""
    import psutil

    try:
        return proc.name().startswith("ray::") or any("/ray/" in part for part in proc.cmdline()[:3])
    except psutil.Error:
        return False


def _cancel(refs: list[Any]) -> None:
    """Cancel every unfinished trial: queued ones are dropped; running ones get KeyboardInterrupt in
    their task, which stops the trial's `ovtool run` with SIGTERM so it removes its staging folder;
    any still running after the grace period are killed with their worker."""
    if not refs:
        return
    import ray

    for ref in refs:
        ray.cancel(ref)
    _, left = ray.wait(refs, num_returns=len(refs), timeout=STOP_GRACE_S + 5)
    for ref in left:
        with contextlib.suppress(Exception):
            ray.cancel(ref, force=True)


def _gather(ref: Any, job: TrialJob) -> TrialOutcome:
    """The outcome of a finished task; in tar mode its trial folder is published into OUT first."""
    import ray

    try:
        result: _TaskResult = ray.get(ref)
    except ray.exceptions.RayError as exc:
        return TrialOutcome(job.id, ok=False, exit_code=1, run_json=None, error=f"ray task failed: {_one_line(exc)}")
    if result.packed is None:
        return result.outcome  # shared filesystem: the trial published into OUT itself
    try:
        unpack_trial(job, result.packed)
    except (OSError, UserError) as exc:
        return replace(result.outcome, ok=False, exit_code=1, run_json=None,
                       error=f"gathering the trial folder into {job.out_dir} failed: {exc}")  # fmt: skip
    run_json = read_run_json(job.out_dir) if result.packed.archive is not None else None
    return replace(result.outcome, run_json=run_json if result.outcome.run_json is not None else None)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


# --- the task (runs on a Ray worker) ----------------------------------------------------------------


def _trial_task(job: TrialJob, probe: _Probe | None) -> _TaskResult:
    """Run one trial on this node: into OUT when the driver's OUT is visible here, else into scratch
    and back as a tar."""
    if probe is not None and _visible(probe):
        return _TaskResult(_run_stoppable(job))
    with scratch.owned_tempdir("ovtool-ray-trial-") as tmp:
        local = replace(job, out_dir=tmp / "trials" / job.id)
        outcome = _run_stoppable(local)
        return _TaskResult(outcome, pack_trial(local.out_dir))


def _visible(probe: _Probe) -> bool:
    with contextlib.suppress(OSError):
        return (probe.folder / TOKEN_FILE).read_text() == probe.token
    return False


def _run_stoppable(job: TrialJob) -> TrialOutcome:
    """`run_trial` in a thread, so `ray.cancel` can stop it cleanly.

    Ray workers block SIGINT (their children inherit that) and `ray.cancel` raises KeyboardInterrupt
    only between Python bytecodes, never inside `run_trial`'s wait for its child; so the task waits
    in short joins, and on cancel sends the trial's `ovtool run` SIGTERM (its cleanup, exit 143).
    """
    box: list[TrialOutcome | BaseException] = []

    def work() -> None:
        try:
            box.append(run_trial(job))
        except BaseException as exc:  # handed to the task's thread below
            box.append(exc)

    thread = threading.Thread(target=work, name=f"trial-{job.id}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        _stop_children(job)
        thread.join(STOP_GRACE_S)
        raise
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _stop_children(job: TrialJob) -> None:
    """SIGTERM to this worker's `ovtool run` of `job` (found by its `-o OUT` argument)."""
    import psutil

    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if str(job.out_dir) in child.cmdline():
                child.send_signal(signal.SIGTERM)


# --- the probe: is the driver's OUT visible on this node? ---------------------------------------------


def _make_probe(parent: Path) -> _Probe:
    """An owner-marked folder with a random token in OUT/trials (swept like any scratch if we are killed)."""
    parent.mkdir(parents=True, exist_ok=True)
    folder = scratch.owned_dir(f"{scratch.STAGING_PREFIX}{PROBE_PREFIX}", parent=parent, mode=0o755)
    token = uuid.uuid4().hex
    (folder / TOKEN_FILE).write_text(token)
    return _Probe(folder, token)
