"""The sweep loop: validate every trial, skip finished ones, run the rest, rank, publish the report.

The sweep OUT is long-lived (it is resumed, never replaced): it is locked for the whole sweep,
each trial publishes into OUT/trials/<id>/ atomically by itself (a normal `ovtool run`), and
sweep.json/report.md/report.html are rewritten atomically after every trial, so Ctrl-C or SIGKILL
at any moment leaves a consistent OUT that a re-run of the same command completes.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.errors import GateFailed, UserError, WorkFailed
from ovtool.junit import check_path as check_junit_path
from ovtool.junit import write_sweep as write_sweep_junit
from ovtool.out_lock import out_lock
from ovtool.out_policy import check_out, out_path
from ovtool.recipe.loader import LoadedRecipe
from ovtool.recipe.sections.sweep import Objective
from ovtool.report import now_iso
from ovtool.sweep import pareto
from ovtool.sweep.executors import TrialOutcome, make_executor, read_run_json, threads_per_trial
from ovtool.sweep.report import SweepResult, write_all, write_atomic
from ovtool.sweep.spec import Trial, build_trials
from ovtool.sweep.table import FINISHED, TrialRow, describe_miss, finished_row, gate_miss

CLOSEST = 3  # trials named when none meets the gates


@dataclass(frozen=True)
class SweepOptions:
    dry_run: bool = False
    jobs: int | None = None  # None: the recipe's sweep.jobs
    executor: str | None = None  # None: the recipe's sweep.executor
    wait: bool = False


def plan(loaded: LoadedRecipe, options: SweepOptions) -> list[Trial]:
    """Every trial, validated (what --dry-run lists); UserError when the recipe has no sweep."""
    sweep = loaded.recipe.sweep
    if sweep is None:
        raise UserError("no sweep: section in the recipe (axes, objectives…); see docs/sweep.md")
    if loaded.recipe.output is None:
        raise UserError("no output folder: pass -o OUT or set `output:` in the recipe")
    _check_out(out_path(Path(str(loaded.recipe.output))))  # --dry-run too: a refused OUT fails before hours of work
    executor = options.executor or sweep.executor
    if executor == "ray":
        from ovtool.sweep.ray_executor import check_ray_available

        check_ray_available()  # exit 2 before any work when Ray is not installed
    threads = threads_per_trial(options.jobs or sweep.jobs) if executor == "local" else None
    return build_trials(loaded, Path(loaded.recipe.output), threads)


def refuse_invalid(trials: list[Trial]) -> None:
    """Exit 2 naming the invalid trials: a sweep runs only when every combination is valid."""
    bad = [t for t in trials if t.invalid]
    if bad:
        named = "; ".join(f"{t.id}: {t.invalid}" for t in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise UserError(f"{len(bad)} of {len(trials)} trials are invalid: {named}{more}")


def run_sweep(loaded: LoadedRecipe, options: SweepOptions) -> SweepResult:
    """Run the sweep into options.out; raises GateFailed (3) when no trial meets the gates."""
    trials = plan(loaded, options)
    refuse_invalid(trials)
    out = out_path(Path(str(loaded.recipe.output)))
    junit = loaded.recipe.gates.junit if loaded.recipe.gates is not None else None
    if junit:
        check_junit_path(junit, str(out))
    sweep = loaded.recipe.sweep
    assert sweep is not None
    jobs = options.jobs or sweep.jobs
    executor = make_executor(options.executor or sweep.executor, jobs)
    out.mkdir(parents=True, exist_ok=True)
    result = SweepResult(sweep=sweep, rows=[], started_at=now_iso())
    try:
        _run_trials(loaded, options, trials, out, executor, jobs, result)
    finally:
        if junit and result.rows:  # also on exit 3, a failed trial or Ctrl-C: CI shows what was tried
            write_sweep_junit(junit, result.rows, result.started_at)
            console.detail(f"junit: {junit}")
    _verdict(result)
    return result


def _run_trials(loaded: LoadedRecipe, options: SweepOptions, trials: list[Trial], out: Path, executor: Any,
                jobs: int, result: SweepResult) -> None:  # fmt: skip
    """Run the trials not finished earlier under OUT's lock, then rank them and publish the winner."""
    sweep = loaded.recipe.sweep
    assert sweep is not None
    with out_lock(out, wait=options.wait):
        todo = []
        for trial in trials:
            row = _reused_row(trial, loaded)
            result.rows.append(row or TrialRow(trial.id, trial.values, "pending"))
            if row is None:
                todo.append(trial)
        if len(todo) < len(trials):
            console.info(f"sweep: {len(trials) - len(todo)} of {len(trials)} trials finished earlier, not redone")
        write_all(result, out)
        by_id = {t.id: t for t in trials}
        rows = {r.id: r for r in result.rows}
        threads = threads_per_trial(jobs) if (options.executor or sweep.executor) == "local" else None
        done = len(trials) - len(todo)
        try:
            for outcome in executor.run([t.job(threads) for t in todo]):
                done += 1
                row = _row(by_id[outcome.id], outcome, loaded)
                result.rows[result.rows.index(rows[outcome.id])] = rows[outcome.id] = row
                console.info(f"sweep: [{done}/{len(trials)}] {row.id}: {_say(row)}")
                write_all(result, out)
        except BaseException:  # Ctrl-C, SIGTERM: record what did finish (a trial may publish as the signal lands)
            result.rows = [r if r.status != "pending" else (_reused_row(by_id[r.id], loaded) or r)
                           for r in result.rows]  # fmt: skip
            write_all(result, out)
            raise
        result.complete, result.finished_at = True, now_iso()
        _rank(result)
        _publish_winner(result, out)
        write_all(result, out)


def _check_out(out: Path) -> None:
    """A sweep OUT is new, empty, or an earlier run of a sweep (sweep.json): never someone's folder."""
    if (out / "sweep.json").is_file():
        if out.is_symlink():
            raise UserError(f"output {out} is a symbolic link: give the real folder with -o")
        model = out / "model"
        if model.exists() and not model.is_symlink():  # a sweep writes only a link there
            raise UserError(f"{model} is a folder a sweep did not write (a sweep links OUT/model to the winner): "
                            "move it away or choose another -o")  # fmt: skip
        return
    if out.is_dir() and not out.is_symlink() and any(out.iterdir()):
        raise UserError(f"output folder {out} is not empty and holds no sweep.json: a sweep writes into a new or "
                        "empty folder, or resumes its own earlier OUT; choose another -o")  # fmt: skip
    check_out(out, overwrite=False)


def _reused_row(trial: Trial, loaded: LoadedRecipe) -> TrialRow | None:
    """The trial's row when an earlier run finished it with this very recipe (run.json's recipe hash)."""
    assert trial.loaded is not None
    run_json = read_run_json(trial.out_dir)
    if run_json is None or run_json.get("status") not in FINISHED:
        return None
    if run_json.get("recipe_sha256") != trial.loaded.sha256():
        return None  # the recipe changed since: the old result answers another question
    return finished_row(trial.id, trial.values, run_json, _objectives(loaded), trial_dir=trial.out_dir,
                        reused=True, exit_code=None)  # fmt: skip


def _objectives(loaded: LoadedRecipe) -> list[Objective]:
    assert loaded.recipe.sweep is not None
    return loaded.recipe.sweep.objectives


def _row(trial: Trial, outcome: TrialOutcome, loaded: LoadedRecipe) -> TrialRow:
    if outcome.ok and outcome.run_json is not None:
        return finished_row(trial.id, trial.values, outcome.run_json, _objectives(loaded), trial_dir=trial.out_dir,
                            reused=False, exit_code=outcome.exit_code)  # fmt: skip
    return TrialRow(trial.id, trial.values, "failed", exit_code=outcome.exit_code, error=outcome.error)


def _say(row: TrialRow) -> str:
    if row.status == "failed":
        return f"failed (exit {row.exit_code}): {row.error}"
    numbers = ", ".join(f"{k} {v:.4g}" if v is not None else f"{k} —" for k, v in row.objectives.items())
    return f"{'gates met' if row.feasible else 'gates not met'}; {numbers}"


def _rank(result: SweepResult) -> None:
    """The Pareto front of the feasible trials and the winner on it (see docs/sweep.md, 'The winner').

    When no trial meets the gates, the front of every finished trial with the gates ignored and the
    trials closest to meeting them are recorded instead: what the next sweep should start from.
    """
    objectives = result.sweep.objectives
    goals = [o.goal for o in objectives]
    feasible = [r for r in result.rows if r.feasible]
    points = [[r.objectives.get(o.metric) for o in objectives] for r in feasible]
    front = pareto.pareto_front(points, goals)
    result.front = [feasible[i].id for i in front]
    finished = [r for r in result.rows if r.finished]
    result.front_ignoring_gates, result.closest = [], []
    if not feasible and finished:
        every = [[r.objectives.get(o.metric) for o in objectives] for r in finished]
        result.front_ignoring_gates = [finished[i].id for i in pareto.pareto_front(every, goals)]
        result.closest = [r.id for r in sorted(finished, key=gate_miss)[:CLOSEST]]
    choose = result.sweep.choose
    by_name = choose.by if choose else objectives[0].metric
    by = [o.metric for o in objectives].index(by_name)
    tolerance = choose.tolerance_pct if choose else 0.0
    winner = pareto.choose(points, goals, front, by=by, tolerance_pct=tolerance)
    if winner is None:
        rows = {r.id: r for r in result.rows}
        closest = "; ".join(describe_miss(rows[i]) for i in result.closest)
        result.best, result.why = None, "no trial met the gates" + (f"; closest: {closest}" if closest else "")
        return
    row = feasible[winner]
    result.best = row.id
    best_value = row.objectives.get(by_name)
    rest = [o.metric for o in objectives if o.metric != by_name]
    result.why = (
        f"{len(result.front)} of {len(feasible)} trials that meet the gates are on the Pareto front; "
        f"{row.id} is the best on {by_name} ({_fmt(best_value)})"
        + (f" within {tolerance:g}%, then on {', '.join(rest)}" if tolerance and rest else "")
        + ("; " + ", ".join(f"{k} {_fmt(v)}" for k, v in row.objectives.items() if k != by_name) if rest else "")
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _publish_winner(result: SweepResult, out: Path) -> None:
    """best.yaml (the winner's resolved recipe) and OUT/model → trials/<id>/model, both swapped in atomically."""
    link = out / "model"
    if result.best is None:
        for stale in (out / "best.yaml", link):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()  # a previous winner no longer stands
        return
    trial = out / "trials" / result.best
    write_atomic(out / "best.yaml", (trial / "recipe.yaml").read_text())
    if (trial / "model").exists():
        tmp = out / f".model.tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.path.relpath(trial / "model", out), target_is_directory=True)
        if link.is_dir() and not link.is_symlink():  # appeared during the sweep: never ours to delete
            tmp.unlink()
            raise UserError(f"{link} is a folder a sweep did not write: move it away; the winner is {trial}")
        os.replace(tmp, link)


def _verdict(result: SweepResult) -> None:
    """Exit 1 when no trial finished; exit 3 naming the closest trials when none met the gates."""
    finished = [r for r in result.rows if r.finished]
    if not finished:
        errors = "; ".join(f"{r.id}: {r.error}" for r in result.rows[:2])
        raise WorkFailed(f"every trial failed: {errors}")
    if result.best is None:
        rows = {r.id: r for r in result.rows}
        closest = "; ".join(describe_miss(rows[i]) for i in result.closest)
        raise GateFailed(f"no trial meets the gates; closest: {closest}")
