"""Data-parallel training over several processes: the ranks, the process group, and what a rank reports.

Two ways in, one behaviour. `--launcher torchrun|accelerate --nproc N`: the ovtool process that the
user started keeps OUT (lock, staging, publish, exit code) and starts N workers through the launcher
(ovtool/training/launch.py), each running the stage (ovtool/stages/distributed.py). Or the user starts ovtool under
`torchrun` / `accelerate launch`: every process reads its rank from the environment (`env_ranks`),
rank 0 runs the normal run (and publishes), the others train and exit 0 (the runner's peer path).
Either way the Hugging Face Trainer does the data-parallel part (DDP, gloo on CPU); this module only
starts the process group with a short collective timeout, keeps the ranks agreeing on decisions
(`broadcast`), gathers per-rank figures (`gather`), and turns a failed rank into one line naming it.

Starting the workers and turning a failed launch into one line is ovtool/training/launch.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool.errors import UserError, WorkFailed, first_line
from ovtool.recipe.sections.distill import DistributedSpec

PARENT_ENV = "OVTOOL_DIST_PARENT"  # set in the workers ovtool starts: the launching process's pid
LAUNCHER_ENV = "OVTOOL_DIST_LAUNCHER"  # set in those workers: the launcher ovtool used
# test-only: "RANK:STEP:kill|raise" — that rank SIGKILLs itself / raises after that optimizer step
TEST_FAULT_ENV = "OVTOOL_TEST_RANK_FAULT"


@dataclass(frozen=True)
class Ranks:
    """This process's place in a launch, from the variables torchrun / accelerate launch set."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False  # WORLD_SIZE is set: some launcher started this process

    @property
    def multi(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_ranks(environ: dict[str, str] | None = None) -> Ranks:
    """RANK / WORLD_SIZE / LOCAL_RANK of this process (a single process when they are absent)."""
    env = os.environ if environ is None else environ
    try:
        rank, world, local = (int(env.get(k, d)) for k, d in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")))
    except ValueError as exc:
        raise UserError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc})") from exc
    if world < 1 or not 0 <= rank < world:
        raise UserError(f"RANK={rank} WORLD_SIZE={world}: the rank must be in 0..WORLD_SIZE-1")
    return Ranks(rank, world, local, launched="WORLD_SIZE" in env)


def launcher_name(environ: dict[str, str] | None = None) -> str:
    """Which launcher started this process: the one ovtool used, else guessed from its variables."""
    env = os.environ if environ is None else environ
    if env.get(LAUNCHER_ENV):
        return env[LAUNCHER_ENV]
    if any(k.startswith("ACCELERATE_") for k in env):
        return "accelerate"
    return "torchrun" if "TORCHELASTIC_RUN_ID" in env else "environment (RANK/WORLD_SIZE)"


def launches(spec: DistributedSpec | None) -> bool:
    """True in the process that must start the workers (a launcher asked for, and not a worker already)."""
    return spec is not None and spec.launcher is not None and PARENT_ENV not in os.environ


def is_peer_process(specs: list[DistributedSpec | None]) -> bool:
    """True for a process that trains but must not own OUT: a non-zero rank of a launch the user
    started, or the ovtool process of a machine other than node 0 (`node_rank > 0`)."""
    if PARENT_ENV in os.environ:
        return False  # ovtool's own workers run stages directly, never the runner
    ranks = env_ranks()
    if ranks.launched and not ranks.is_main:
        return True
    return any(s is not None and s.launcher and (s.node_rank or 0) > 0 for s in specs)


def check(spec: DistributedSpec | None, what: str) -> None:
    """Preflight of `<section>.distributed`: combinations a recipe cannot express, and the launcher exists."""
    if spec is None or spec.launcher is None or PARENT_ENV in os.environ:
        return
    ranks = env_ranks()
    if ranks.launched:
        raise UserError(
            f"{what}.distributed.launcher: ovtool already runs under a launcher (WORLD_SIZE={ranks.world_size}); "
            "drop --launcher, or start ovtool without torchrun/accelerate launch"
        )
    from ovtool.extras import is_available

    module = "accelerate.commands.launch" if spec.launcher == "accelerate" else "torch.distributed.run"
    if not is_available(module):
        package = "accelerate" if spec.launcher == "accelerate" else "torch"
        raise UserError(f"--launcher {spec.launcher} needs {package} (not installed): "
                        "`pip install 'ovtool[train]'`, or use the other launcher")  # fmt: skip


# --- inside a training process --------------------------------------------------------------------


@dataclass
class Session:
    """The process group of this stage run (a no-op for one process)."""

    ranks: Ranks
    backend: str | None = None
    launcher: str | None = None
    started_by: str | None = None

    @property
    def is_main(self) -> bool:
        return self.ranks.is_main

    def shared_dir(self, folder: Path) -> Path:
        """Rank 0's checkpoint folder when this machine can see it (the Trainer loads the best checkpoint
        from it on every rank), else this rank's own."""
        if not self.ranks.multi:
            return folder
        main = Path(broadcast(str(folder)))
        return main if main.is_dir() else folder

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Training: a collective that fails because a peer died becomes one line naming that rank."""
        try:
            yield
        except Exception as exc:
            if self.ranks.multi and not isinstance(exc, PeerLost) and is_peer_error(exc):
                raise peer_lost(exc, self.ranks) from exc
            raise

    def finish(self) -> bool:
        """Training is over: True on rank 0 (which goes on alone), False on the others (which stop).
        Rank 0 leaves the process group so export and measurement run as one plain process."""
        if not self.ranks.multi:
            return True
        if self.is_main:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
        return self.is_main

    def details(self, outcomes: list[Any], batch_size: int) -> dict[str, Any]:
        """What run.json records about the processes: world size, backend, launcher, per-rank throughput."""
        per_rank: dict[int, dict[str, float]] = {}
        for outcome in outcomes:
            for row in getattr(outcome, "ranks", None) or []:
                acc = per_rank.setdefault(int(row["rank"]), {"samples": 0.0, "seconds": 0.0, "host": row["host"]})
                acc["samples"] += row["samples"]
                acc["seconds"] += row["seconds"]
        rows = [{"rank": r, "host": v["host"], "samples": int(v["samples"]), "seconds": round(v["seconds"], 2),
                 "samples_per_second": round(v["samples"] / v["seconds"], 2) if v["seconds"] else None}
                for r, v in sorted(per_rank.items())]  # fmt: skip
        return {
            "world_size": self.ranks.world_size,
            "backend": self.backend or "none (one process)",
            "launcher": self.launcher,
            "started_by": self.started_by,
            "batch_size_per_process": batch_size,
            "effective_batch_size": batch_size * self.ranks.world_size,
            "per_rank_throughput": rows,
        }


def start(spec: DistributedSpec | None) -> Session:
    """Join the process group when this process is one of several ranks (env://, short timeout)."""
    ranks = env_ranks()
    if not ranks.multi:
        return Session(ranks)
    import datetime

    import torch
    import torch.distributed as dist

    backend = (spec.backend if spec else None) or ("nccl" if torch.cuda.is_available() else "gloo")
    timeout = spec.timeout if spec else DistributedSpec().timeout
    if not dist.is_initialized():
        if backend == "nccl" and torch.cuda.is_available():
            torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    started_by = "ovtool" if PARENT_ENV in os.environ else "user"
    return Session(ranks, backend=dist.get_backend(), launcher=launcher_name(), started_by=started_by)


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def broadcast(obj: Any) -> Any:
    """Rank 0's `obj` on every rank (the same pruning plan everywhere, whatever float noise says)."""
    if not _initialized():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not _initialized():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def world_size() -> int:
    return env_ranks().world_size


def rank_throughput(steps: int, batch_size: int, seconds: float) -> list[dict[str, Any]] | None:
    """This rank's training samples/s, gathered from every rank (None for one process)."""
    if not _initialized():
        return None
    import socket

    import torch.distributed as dist

    mine = {"rank": dist.get_rank(), "host": socket.gethostname(), "samples": steps * batch_size,
            "seconds": round(seconds, 3)}  # fmt: skip
    return gather(mine)


def fault_callbacks() -> list[Any]:
    """Test-only (OVTOOL_TEST_RANK_FAULT=RANK:STEP:kill|raise): a rank that dies mid-training."""
    value = os.environ.get(TEST_FAULT_ENV)
    if not value or not _initialized():
        return []
    import torch.distributed as dist
    from transformers import TrainerCallback

    rank, step, mode = value.split(":")
    if int(rank) != dist.get_rank():
        return []

    class Fault(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == int(step):
                if mode == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError(f"test fault at step {step}")

    return [Fault()]


class PeerLost(WorkFailed):
    """A collective failed because another rank stopped (killed, failed, or unreachable)."""


def is_peer_error(exc: BaseException) -> bool:
    """True when `exc` says a peer went away (gloo/nccl), i.e. the cause is another rank's failure."""
    if isinstance(exc, PeerLost):
        return True
    if type(exc).__name__ in ("DistBackendError", "DistNetworkError", "DistStoreError"):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        s in text for s in ("connection closed by peer", "connection reset by peer", "broken pipe", "timed out")
    )


def peer_lost(exc: BaseException, ranks: Ranks) -> PeerLost:
    """This rank's collective failed: name the rank(s) that stopped first (with two ranks, the other)."""
    n = ranks.world_size
    others = f"rank {1 - ranks.rank}" if n == 2 else f"another of the {n} ranks"
    return PeerLost(f"{others} of {n} stopped during training (rank {ranks.rank} saw: {first_line(exc, 160)})")


def report_failure(job_dir: Path, rank: int, exc: BaseException) -> int:
    """In a worker: write this rank's one-line error for the launching process; the exit code to use."""
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return 0
    exit_code = getattr(exc, "exit_code", None) or (130 if isinstance(exc, KeyboardInterrupt) else 1)
    message = str(exc) if isinstance(exc, (UserError, WorkFailed)) else f"{type(exc).__name__}: {first_line(exc)}"
    data = {"rank": rank, "message": message.splitlines()[0] if message else type(exc).__name__,
            "exit_code": exit_code, "time": time.time(), "pid": os.getpid(),
            # a peer's loss, or the launcher's SIGTERM after another rank failed: not this rank's own failure
            "peer": is_peer_error(exc) or isinstance(exc, KeyboardInterrupt)}  # fmt: skip
    from ovtool.artifacts import write_atomic

    with contextlib.suppress(OSError):
        write_atomic(job_dir / f"error-rank{rank}.json", json.dumps(data))
    return int(exit_code)


def watch_parent(pid: int, interval: float = 2.0) -> None:
    """In a worker: exit when the ovtool process that launched us is gone (it was SIGKILLed)."""

    def watch() -> None:
        while True:
            time.sleep(interval)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                return

    threading.Thread(target=watch, name="ovtool-parent-watch", daemon=True).start()
