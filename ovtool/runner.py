"""Run one or more stages of a validated recipe: staging folder → stages → gates → publish."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool import console, scratch
from ovtool.artifacts import RunFolder, sha256_path
from ovtool.context import DatasetOutput, ModelRef, Pending, StageContext, StageInput
from ovtool.errors import GateFailed, UserError
from ovtool.gates import evaluate
from ovtool.out_lock import out_lock
from ovtool.out_policy import Inputs, input_paths, out_path
from ovtool.recipe.loader import LoadedRecipe
from ovtool.recipe.schema import CacheSettings
from ovtool.report import RunRecord, StageRecord, now_iso, write_reports
from ovtool.run_cache import RunCache
from ovtool.stages.base import Stage
from ovtool.stages.registry import get_stage


@dataclass(frozen=True)
class RunOptions:
    command: str
    stages: list[str]
    overwrite: bool = False
    dry_run: bool = False
    wait: bool = False  # another run holds OUT's lock: wait for it instead of exiting 2
    from_stage: str | None = None  # `run --from STAGE`: recompute it and every later stage (store them anew)


def _inputs(loaded: LoadedRecipe, stage: Stage[Any], previous: ModelRef | None,
            dataset: DatasetOutput | None, say: bool = False) -> StageInput:
    """The typed input the runner hands `stage`: its model and what it needs from other sections.

    A model naming an earlier ovtool OUT is read from OUT/model (`say`: tell so on stderr, -v).
    """
    from ovtool.stages.dataset_refs import resolve_out

    recipe = loaded.recipe
    own = getattr(getattr(recipe, stage.name, None), "input", None)
    model = own or previous or recipe.model
    return StageInput(
        model=resolve_out(model, "model", say) if isinstance(model, str) else model,
        source_model=resolve_out(recipe.model, "model") if recipe.model else recipe.model,
        dataset=dataset,
        convert=recipe.convert,
        gates=recipe.gates,
        output=Path(recipe.output) if recipe.output else None,
    )


def _section(loaded: LoadedRecipe, stage: Stage[Any], dataset: DatasetOutput | None, say: bool = False) -> Any:
    """The stage's own section with `@dataset/...` paths pointing into this run's dataset output, and
    models/datasets that name an earlier ovtool OUT pointing to its model/ or dataset/.

    recipe.yaml keeps the reference (the loaded recipe itself is never changed).
    """
    from ovtool.stages.dataset_refs import resolve_dataset_refs

    return resolve_dataset_refs(stage.section_of(loaded.recipe), dataset.path if dataset else None, say)


def _hash_inputs(loaded: LoadedRecipe, stages: list[str]) -> dict[str, dict[str, str]]:
    """sha256 of every local input the run reads (hub ids are recorded without a hash)."""
    wanted = {"model": loaded.recipe.model}
    bench = loaded.recipe.benchmark
    for i, extra in enumerate(getattr(bench, "models", None) or []):
        if isinstance(extra, str) and not extra.startswith("{"):
            wanted[f"benchmark.models[{i}]"] = extra
    for stage in stages:
        section = getattr(loaded.recipe, stage, None)
        if section is not None and getattr(section, "input", None):
            wanted[f"{stage}.input"] = section.input
    hashes: dict[str, dict[str, str]] = {}
    digest = _path_hasher(loaded)
    for key, value in wanted.items():
        if not value:
            continue
        path = Path(value)
        hashes[key] = {"path": value, "sha256": digest(path) if path.exists() else ""}
    return hashes


def _path_hasher(loaded: LoadedRecipe) -> Any:
    """sha256_path, through the cache's hash index when the cache is on: re-reading an unchanged 300 MB
    IR on every `generate` cost ~1 s (the same hash; docs/cache.md says when the index is trusted)."""
    settings = loaded.recipe.cache or CacheSettings()
    if not settings.enabled:
        return sha256_path
    from ovtool.cache import HashIndex, cache_root

    return HashIndex(cache_root()).path_hash  # an unusable index falls back to reading the files


def _work_dir(options: RunOptions, root: Path, stage: str) -> Path:
    return root / stage if options.command == "run" else root


def _run_inputs(loaded: LoadedRecipe, stages: list[str]) -> Inputs:
    """Every local path this run reads: OUT may never hold one or sit inside one."""
    data = loaded.dump(include={"model", "gates", *stages})
    return input_paths(data, loaded.source)


def preflight(loaded: LoadedRecipe, options: RunOptions) -> None:
    """Everything --dry-run checks: output policy, inputs, and each stage's own checks."""
    recipe = loaded.recipe
    if options.from_stage is not None and options.from_stage not in options.stages:
        raise UserError(f"--from {options.from_stage}: this recipe runs {', '.join(options.stages)}")
    stages = [get_stage(name) for name in options.stages]
    if recipe.output is None and any(s.needs_output for s in stages):
        raise UserError("no output folder: pass -o OUT or set `output:` in the recipe")
    if recipe.output is not None:
        folder = RunFolder(Path(recipe.output), options.overwrite, _run_inputs(loaded, options.stages))
        folder.check()
        folder.check_creatable()
    if recipe.gates is not None and recipe.gates.junit:
        from ovtool.junit import check_path as check_junit_path  # only with --junit (xml.etree)

        check_junit_path(recipe.gates.junit, recipe.output)
    root = Path(recipe.output or ".")
    previous: ModelRef | None = None
    dataset: DatasetOutput | None = None
    for stage in stages:
        ctx = StageContext(stage=stage.name, work_dir=_work_dir(options, root, stage.name),
                           input=_inputs(loaded, stage, previous, dataset, say=True), seed=recipe.seed)  # fmt: skip
        if stage.needs_model and not ctx.input.model:
            raise UserError(f"{stage.name}: no model: pass -m MODEL or set `model:` in the recipe")
        section = _section(loaded, stage, dataset, say=True)  # a dangling `@dataset` reference fails here
        stage.preflight(section, ctx)
        if stage.name == "dataset":  # where `@dataset/...` paths will point once it ran
            dataset = DatasetOutput(ctx.work_dir / "dataset", pending=True)
        if stage.needs_model and stage.produces_model:
            previous = Pending(stage.name)


def execute(loaded: LoadedRecipe, options: RunOptions) -> RunRecord | None:
    """Do the work and publish OUT atomically; the caller turns failed gates into exit 3 (check_gates)."""
    preflight(loaded, options)
    if options.dry_run:
        return None
    if _is_peer(loaded, options):  # a rank other than 0 of a multi-process launch: train, publish nothing
        _run_as_peer(loaded, options)
        raise SystemExit(0)
    scratch.sweep_and_report(Path(loaded.recipe.output) if loaded.recipe.output else None)  # killed runs' leftovers
    if loaded.recipe.output is None:
        return _execute(loaded, options)
    with out_lock(out_path(Path(loaded.recipe.output)), wait=options.wait):  # one run per OUT, all along
        return _execute(loaded, options)


TRAINING_STAGES = ("prune", "distill")  # the stages that train data-parallel on several processes


def _is_peer(loaded: LoadedRecipe, options: RunOptions) -> bool:
    """True for a process that trains but must not touch OUT (ovtool/training/distributed.py)."""
    if "WORLD_SIZE" not in os.environ and not set(options.stages) & set(TRAINING_STAGES):
        return False  # no launcher, no training stage: not even the training module is imported (start-up)
    from ovtool.training.distributed import env_ranks, is_peer_process

    if env_ranks().multi and (other := [s for s in options.stages if s not in TRAINING_STAGES]):
        raise UserError(f"started on {env_ranks().world_size} processes: only {'/'.join(TRAINING_STAGES)} "
                        f"train on several processes; run {', '.join(other)} in one process")  # fmt: skip
    specs = [getattr(getattr(loaded.recipe, s, None), "distributed", None) for s in options.stages]
    return is_peer_process(specs)


def _run_as_peer(loaded: LoadedRecipe, options: RunOptions) -> None:
    """Run the stages in a scratch folder, without the cache, OUT's lock or a staging folder: rank 0
    (or node 0's ovtool) owns OUT. Only errors reach stderr; the exit is 0 once training is done."""
    console.set_verbosity(0, True)
    os.environ["TQDM_DISABLE"] = "1"  # no library progress bars either (transformers' "Loading weights")
    record = RunRecord(command=options.command, recipe_sha256=loaded.sha256(), recipe_source=loaded.source,
                       started_at=now_iso(), inputs={})  # fmt: skip
    with scratch.owned_tempdir("ovtool-peer-") as tmp:
        _run_stages(loaded, options, record, tmp, use_cache=False)


def _execute(loaded: LoadedRecipe, options: RunOptions) -> RunRecord:
    record = RunRecord(
        command=options.command,
        recipe_sha256=loaded.sha256(),
        recipe_source=loaded.source,
        started_at=now_iso(),
        inputs=_hash_inputs(loaded, options.stages),
    )
    try:
        _work(loaded, options, record)
    except BaseException as exc:  # JUnit says where the work stopped (exit 1/130/143), then the error goes on
        _write_junit(loaded, options, record, exc)
        raise
    _write_junit(loaded, options, record, None)
    return record


def _work(loaded: LoadedRecipe, options: RunOptions, record: RunRecord) -> None:
    recipe = loaded.recipe
    start = time.perf_counter()
    if recipe.output is None:
        with scratch.owned_tempdir("ovtool-") as tmp:
            _run_stages(loaded, options, record, tmp)
            _finish(loaded, record, options, tmp, start)
        return
    folder = RunFolder(Path(recipe.output), options.overwrite, _run_inputs(loaded, options.stages))
    with folder as staging:
        _run_stages(loaded, options, record, staging)
        _finish(loaded, record, options, staging, start)
        folder.publish()
    console.info(f"published {folder.out}")


def _write_junit(loaded: LoadedRecipe, options: RunOptions, record: RunRecord, error: BaseException | None) -> None:
    """`--junit FILE` / `gates.junit`: the stages and gates as JUnit XML, written whatever the outcome."""
    gates = loaded.recipe.gates
    if gates is None or not gates.junit:
        return
    data = record.as_dict()
    if error is not None and not record.gates:  # stopped before the gates: list them, as not checked
        data["gates"] = [g.as_dict() for g in evaluate(gates, {}, strict=False)]
    from ovtool.junit import write as write_junit

    write_junit(gates.junit, data, options.stages, error)
    console.detail(f"junit: {gates.junit}")


def _run_stages(loaded: LoadedRecipe, options: RunOptions, record: RunRecord, root: Path,
                use_cache: bool = True) -> None:  # fmt: skip
    """Each stage in order, through the stage cache: finished stages are stored as they finish, so a run
    that fails later starts again at the stage that failed (ovtool/run_cache.py)."""
    previous: ModelRef | None = None
    dataset: DatasetOutput | None = None
    settings = loaded.recipe.cache or CacheSettings()
    # several ranks: all of them must train, so none may take a stored result (or store one alone)
    enabled = settings.enabled and use_cache and not _multi_rank()
    cache = RunCache.for_run(enabled, settings.measurements, options.stages, options.from_stage)
    for stage in (get_stage(name) for name in options.stages):
        ctx = StageContext(stage=stage.name, work_dir=_work_dir(options, root, stage.name),
                           input=_inputs(loaded, stage, previous, dataset), seed=loaded.recipe.seed)  # fmt: skip
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        section = _section(loaded, stage, dataset)
        with console.stdout_to_stderr():
            result, outcome = cache.run(stage, section, ctx)
        if result.dataset_dir is not None:
            dataset = DatasetOutput(result.dataset_dir)
        for warning in result.warnings:
            console.warn(f"{stage.name}: {warning}")
        model_rel = None
        if result.model_dir is not None:
            model_rel = os.path.relpath(result.model_dir, root)
            previous = str(result.model_dir)
        record.stages.append(StageRecord(result=result, ctx=ctx, model_rel=model_rel, cache=outcome.as_dict()))


def _multi_rank() -> bool:
    if "WORLD_SIZE" not in os.environ:  # what env_ranks reads: one process
        return False
    from ovtool.training.distributed import env_ranks

    return env_ranks().multi


def single_stage(loaded: LoadedRecipe, name: str, work_dir: Path) -> tuple[Any, StageContext]:
    """One stage's section and context outside a run (`generate --chat`): wired here, published nowhere."""
    stage = get_stage(name)
    ctx = StageContext(stage=name, work_dir=work_dir, input=_inputs(loaded, stage, None, None, say=True),
                       seed=loaded.recipe.seed)  # fmt: skip
    if stage.needs_model and not ctx.input.model:
        raise UserError(f"{stage.name}: no model: pass -m MODEL or set `model:` in the recipe")
    return _section(loaded, stage, None, say=True), ctx


def _finish(loaded: LoadedRecipe, record: RunRecord, options: RunOptions, root: Path, start: float) -> None:
    values = {s.result.stage: s.result.gate_values for s in record.stages}
    record.gates = evaluate(loaded.recipe.gates, values, strict=options.command == "run")
    record.finished_at = now_iso()
    record.duration_s = round(time.perf_counter() - start, 3)
    if options.command == "run":
        final = next((s.model_rel for s in reversed(record.stages) if s.model_rel), None)
        if final is not None and final != "model":
            (root / "model").symlink_to(final, target_is_directory=True)
    if loaded.recipe.output is None:  # a scratch folder, deleted unread: `--json` prints the record itself
        return
    (root / "recipe.yaml").write_text(loaded.resolved_yaml())
    write_reports(record, root)


def check_gates(record: RunRecord) -> None:
    """Report every gate on stderr; raise GateFailed (exit 3) naming the ones not met."""
    for gate in record.gates:
        console.info(f"gate {gate.describe()}")
    failed = [g.describe() for g in record.gates if g.passed is False]
    failed += [f"{s.result.stage}: {line}" for s in record.stages for line in s.result.check_failures]
    if failed:
        raise GateFailed("not met: " + "; ".join(failed))
