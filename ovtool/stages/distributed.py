"""A training stage on several processes that ovtool starts itself (`--launcher torchrun|accelerate`).

The launching process keeps everything the run contract is about: it validated the recipe, holds
OUT's lock and the staging folder, and turns the outcome into the exit code. It hands the workers
their stage, section and context through a job folder (pickled); each worker runs the stage's own
`run` under torch.distributed; rank 0 writes the model and figures into the parent's staging
folder and pickles its StageResult back; the other ranks stop after training. A failed rank writes
its one-line error into the job folder, and the parent reports the rank that failed first.

`python -m ovtool.stages.distributed JOB` is the worker's entry (what the launcher runs).
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any

from ovtool.context import StageContext
from ovtool.errors import WorkFailed
from ovtool.recipe.sections.distill import DistributedSpec
from ovtool.results import Metric, StageResult
from ovtool.scratch import owned_tempdir

JOB_FILE = "job.pkl"
RESULT_FILE = "result.pkl"


def launch_stage(stage: str, section: Any, ctx: StageContext, spec: DistributedSpec) -> StageResult:
    """Run `stage` on spec.nproc processes (x nnodes); rank 0's StageResult is this stage's result."""
    from ovtool.training import launch

    nodes = spec.nnodes or 1
    where = f"{spec.nproc} processes" + (f" on each of {nodes} machines" if nodes > 1 else "")
    with owned_tempdir("ovtool-dist-") as job:
        (job / JOB_FILE).write_bytes(pickle.dumps((stage, section, ctx)))
        with ctx.step(f"training on {where} ({spec.launcher}, rank 0 exports and measures)"):
            launch.launch(spec, "ovtool.stages.distributed", [str(job)], job)
        result_file = job / RESULT_FILE
        if not result_file.exists():
            if (spec.node_rank or 0) > 0:  # rank 0 runs on node 0: this machine only trained
                return peer_result(stage, f"node {spec.node_rank}: training done; node 0 publishes")
            raise WorkFailed("the training processes ended without rank 0's result")
        result, steps = pickle.loads(result_file.read_bytes())
    ctx.steps.extend(steps)
    return result


def record_processes(result: StageResult, details: dict[str, Any]) -> None:
    """run.json: the processes (world size, backend, launcher) and each rank's training throughput."""
    result.details["distributed"] = details
    rows = details["per_rank_throughput"]
    if rows:
        total = round(sum(r["samples_per_second"] or 0 for r in rows), 2)
        result.metrics["training_throughput"] = Metric(
            total, "samples/s", f"all {details['world_size']} ranks together (per rank: details.distributed)"
        )


def peer_result(stage: str, summary: str) -> StageResult:
    """What a rank other than 0 returns once it has trained: nothing to publish."""
    result = StageResult(stage=stage)
    result.summary = summary
    return result


def main(argv: list[str]) -> int:
    """A worker: run the job's stage on this rank; rank 0 pickles its result for the parent."""
    from ovtool import console, interrupts
    from ovtool.artifacts import write_atomic
    from ovtool.stages.registry import get_stage
    from ovtool.training import distributed

    job = Path(argv[0])
    interrupts.install()  # the launcher's SIGTERM unwinds this rank (its scratch folders are removed)
    ranks = distributed.env_ranks()
    write_atomic(job / f"rank{ranks.rank}.pid", str(os.getpid()))
    distributed.watch_parent(int(os.environ[distributed.PARENT_ENV]))
    if not ranks.is_main:
        console.set_verbosity(0, True)  # rank 0 tells the progress; the others only their errors
        os.environ["TQDM_DISABLE"] = "1"  # and no library progress bars (transformers' "Loading weights")
    try:
        name, section, ctx = pickle.loads((job / JOB_FILE).read_bytes())
        result = get_stage(name).run(section, ctx)
        if ranks.is_main:
            write_atomic(job / RESULT_FILE, pickle.dumps((result, ctx.steps)))
        return 0
    except BaseException as exc:  # every failure becomes this rank's one line for the parent
        interrupts.settle()  # the stage has unwound; a SIGTERM while reporting just ends the rank
        if os.environ.get("OVTOOL_DEBUG") == "1":
            console.err.print_exception()
        return distributed.report_failure(job, ranks.rank, exc)
    finally:
        interrupts.settle()  # the launcher's SIGTERM after a peer died must not land in a shutdown traceback


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
