"""Run one or more stages of a validated recipe: staging folder → stages → gates → publish."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ovtool import console, scratch
from ovtool.artifacts import RunFolder, sha256_path
from ovtool.errors import GateFailed, UserError
from ovtool.gates import evaluate
from ovtool.out_lock import out_lock
from ovtool.out_policy import Inputs, input_paths, out_path
from ovtool.recipe.loader import LoadedRecipe
from ovtool.recipe.schema import Recipe
from ovtool.report import RunRecord, StageRecord, now_iso, write_reports
from ovtool.stages import load_stage
from ovtool.stages.context import StageContext


@dataclass(frozen=True)
class RunOptions:
    command: str
    stages: list[str]
    overwrite: bool = False
    dry_run: bool = False
    wait: bool = False  # another run holds OUT's lock: wait for it instead of exiting 2


def _stage_input(loaded: LoadedRecipe, stage: str, previous: str | None) -> str | None:
    section = getattr(loaded.recipe, stage, None)
    own = getattr(section, "input", None) if section is not None else None
    return own or previous or loaded.recipe.model


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
    for key, value in wanted.items():
        if not value:
            continue
        path = Path(value)
        hashes[key] = {"path": value, "sha256": sha256_path(path) if path.exists() else ""}
    return hashes


def _contexts(loaded: LoadedRecipe, options: RunOptions, root: Path) -> list[tuple[str, StageContext]]:
    nested = options.command == "run"
    return [
        (stage, StageContext(stage=stage, work_dir=root / stage if nested else root, input_model=None,
                             seed=loaded.recipe.seed))
        for stage in options.stages
    ]  # fmt: skip


def _run_inputs(loaded: LoadedRecipe, stages: list[str]) -> Inputs:
    """Every local path this run reads: OUT may never hold one or sit inside one."""
    data = loaded.recipe.model_dump(mode="json", include={"model", "gates", *stages})
    return input_paths(data, loaded.source)


def preflight(loaded: LoadedRecipe, options: RunOptions) -> None:
    """Everything --dry-run checks: output policy, inputs, and each stage's own checks."""
    recipe = loaded.recipe
    modules = {stage: load_stage(stage) for stage in options.stages}
    if recipe.output is None and any(m.NEEDS_OUTPUT for m in modules.values()):
        raise UserError("no output folder: pass -o OUT or set `output:` in the recipe")
    if recipe.output is not None:
        folder = RunFolder(Path(recipe.output), options.overwrite, _run_inputs(loaded, options.stages))
        folder.check()
        folder.check_creatable()
    previous: str | None = None
    root = Path(recipe.output or ".")
    # where `@dataset/...` paths will point once the dataset stage ran (a dangling one fails here)
    planned = _contexts(loaded, options, root)[0][1].work_dir / "dataset" if "dataset" in options.stages else None
    for stage, ctx in _contexts(loaded, options, root):
        ctx.input_model = _stage_input(loaded, stage, previous)
        if modules[stage].NEEDS_MODEL and not ctx.input_model:
            raise UserError(f"{stage}: no model: pass -m MODEL or set `model:` in the recipe")
        if stage != "dataset":
            _with_dataset_refs(recipe, planned)  # a dangling `@dataset` reference fails here
        modules[stage].preflight(recipe, ctx)
        if modules[stage].NEEDS_MODEL:
            previous = f"<output of {stage}>"


def execute(loaded: LoadedRecipe, options: RunOptions) -> RunRecord | None:
    """Do the work and publish OUT atomically; the caller turns failed gates into exit 3 (check_gates)."""
    preflight(loaded, options)
    if options.dry_run:
        return None
    scratch.sweep_and_report(Path(loaded.recipe.output) if loaded.recipe.output else None)  # killed runs' leftovers
    if loaded.recipe.output is None:
        return _execute(loaded, options)
    with out_lock(out_path(Path(loaded.recipe.output)), wait=options.wait):  # one run per OUT, all along
        return _execute(loaded, options)


def _execute(loaded: LoadedRecipe, options: RunOptions) -> RunRecord:
    recipe = loaded.recipe
    record = RunRecord(
        command=options.command,
        recipe_sha256=loaded.sha256(),
        recipe_source=loaded.source,
        started_at=now_iso(),
        inputs=_hash_inputs(loaded, options.stages),
    )
    start = time.perf_counter()
    if recipe.output is None:
        with scratch.owned_tempdir("ovtool-") as tmp:
            _run_stages(loaded, options, record, tmp)
            _finish(loaded, record, options, tmp, start)
        return record
    folder = RunFolder(Path(recipe.output), options.overwrite, _run_inputs(loaded, options.stages))
    with folder as staging:
        _run_stages(loaded, options, record, staging)
        _finish(loaded, record, options, staging, start)
        folder.publish()
    console.info(f"published {folder.out}")
    return record


def _with_dataset_refs(recipe: Recipe, dataset_dir: Path | None) -> Recipe:
    """The recipe a later stage sees: `path: "@dataset/..."` resolved into this run's dataset output.

    recipe.yaml keeps the reference (the loaded recipe itself is never changed).
    """
    from ovtool.stages.dataset_refs import resolve_dataset_refs

    return resolve_dataset_refs(recipe, dataset_dir)


def _run_stages(loaded: LoadedRecipe, options: RunOptions, record: RunRecord, root: Path) -> None:
    previous: str | None = None
    dataset_dir: Path | None = None
    for stage, ctx in _contexts(loaded, options, root):
        ctx.input_model = _stage_input(loaded, stage, previous)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        module = load_stage(stage)
        stage_recipe = loaded.recipe if stage == "dataset" else _with_dataset_refs(loaded.recipe, dataset_dir)
        with console.stdout_to_stderr():
            result = module.run(stage_recipe, ctx)
        if stage == "dataset":
            from ovtool.stages.dataset_refs import dataset_output

            dataset_dir = dataset_output(result, ctx)
        for warning in result.warnings:
            console.warn(f"{stage}: {warning}")
        model_rel = None
        if result.model_dir is not None:
            model_rel = os.path.relpath(result.model_dir, root)
            previous = str(result.model_dir)
        record.stages.append(StageRecord(result=result, ctx=ctx, model_rel=model_rel))


def _finish(loaded: LoadedRecipe, record: RunRecord, options: RunOptions, root: Path, start: float) -> None:
    values = {s.result.stage: s.result.gate_values for s in record.stages}
    record.gates = evaluate(loaded.recipe.gates, values, strict=options.command == "run")
    record.finished_at = now_iso()
    record.duration_s = round(time.perf_counter() - start, 3)
    if options.command == "run":
        final = next((s.model_rel for s in reversed(record.stages) if s.model_rel), None)
        if final is not None and final != "model":
            (root / "model").symlink_to(final, target_is_directory=True)
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
