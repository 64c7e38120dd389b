"""The runner's side of the stage cache: a stage's key, and whether this run reuses, computes or skips it.

Why here and not in the stages: a stage never sees the cache (it writes into its work dir and returns a
StageResult); the runner decides, per stage, from what the Stage declares (ovtool/stages/base.py):
- an artifact stage (dataset writing verbs, convert, prune, distill) is looked up by key; a hit puts the
  stored folder into the work dir (hard links) and restores the StageResult; a miss runs it and stores it
  right away, so a run that fails later resumes from here on its next attempt;
- quantize caches its `produce` part (the compressed IR) and runs `measure` (quality, speed) every time;
- measurements (benchmark, generate, quantize's measure) are cached only with `cache.measurements`.

The key chains: a stage reading the output of an earlier stage of this run is keyed by that stage's key
(no re-hashing of a folder just written); local inputs are hashed through the HashIndex (cheap when
unchanged). Everything else that changes the output is in the key too: the section (paths replaced by
their content hash, so neither the staging folder nor where the data lives leaks in), library versions,
the seed where it matters, and the CPU where the result depends on the machine. See docs/cache.md.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from ovtool import console
from ovtool.context import StageContext
from ovtool.measure import StepMeasurement
from ovtool.out_policy import PATH_KEYS
from ovtool.results import StageResult
from ovtool.stages.base import Stage

T = TypeVar("T")
# section fields that name files the stage writes (not inputs): kept as written, never hashed
NOT_INPUTS = frozenset({"checkpoint_dir"})


@dataclass
class CacheOutcome:
    """How the cache served one stage: run.json's per-stage `cache`."""

    status: str  # hit | miss | off
    key: str | None = None
    reason: str = ""
    measured: str | None = None  # split stages: "rerun" (measured again) or "hit" (cache.measurements)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "key": self.key}
        if self.reason:
            data["reason"] = self.reason
        if self.measured is not None:
            data["measurement"] = self.measured
        return data


@dataclass
class RunCache:
    """One run's use of the cache: on or off, measurements or not, the stages `--from` recomputes, and the
    key of every output made so far in this run (path → key: the chain)."""

    enabled: bool
    measurements: bool = False
    recompute: frozenset[str] = frozenset()
    produced: dict[str, str] = field(default_factory=dict)
    _store: Any = None
    _index: Any = None
    _broken: str = ""

    @classmethod
    def for_run(cls, enabled: bool, measurements: bool, stages: list[str], from_stage: str | None) -> RunCache:
        recompute = frozenset(stages[stages.index(from_stage) :]) if from_stage in stages else frozenset()
        return cls(enabled=enabled, measurements=measurements, recompute=recompute)

    @property
    def store(self) -> Any:
        """The StageCache, opened on first use (a run that caches nothing creates no cache folder)."""
        self._open()
        return self._store

    @property
    def index(self) -> Any:
        """The HashIndex beside the cache: unchanged input files are not read again."""
        self._open()
        return self._index

    def _unavailable(self) -> str:
        """Why the cache folder cannot be used ("" when it can): an unwritable cache costs the reuse, not the run."""
        if self._broken:
            return self._broken
        try:
            self._open()
        except OSError as exc:
            self._broken = f"cache unavailable ({exc.strerror or exc})"
            console.warn(f"stage {self._broken}: running without it")
        return self._broken

    def _open(self) -> None:
        if self._store is None:
            from ovtool.cache import HashIndex, StageCache

            self._store = StageCache()
            self._index = HashIndex(self._store.root)

    # --- one stage ------------------------------------------------------------------------------

    def run(self, stage: Stage[Any], section: Any, ctx: StageContext) -> tuple[StageResult, CacheOutcome]:
        """Run `stage` through the cache (or around it): its result and how the cache served it."""
        kind = stage.cache_kind(section)
        why_not = ("--no-cache (cache.enabled: false)" if not self.enabled
                   else f"{stage.name} makes nothing reusable" if kind == "none"
                   else "a measurement (cache.measurements: false)" if kind == "measurement" and not self.measurements
                   else self._unavailable())  # fmt: skip
        if why_not:
            return _plain(stage, section, ctx), CacheOutcome("off", reason=why_not)
        forced = stage.name in self.recompute
        if stage.produce is not None and stage.measure is not None:
            return self._split(stage, section, ctx, forced)
        key = self.key(stage, section, ctx, measured=kind == "measurement")
        result, status = self._through(key, stage, ctx, forced, lambda: _plain(stage, section, ctx),
                                       store_files=True)  # fmt: skip
        self._remember(result, key)
        return result, CacheOutcome(status, key, _why(forced, status, self._broken))

    def _split(self, stage: Stage[Any], section: Any, ctx: StageContext,
               forced: bool) -> tuple[StageResult, CacheOutcome]:  # fmt: skip
        """The artifact (`produce`) by key; the measurement again, or by its own key with cache.measurements."""
        assert stage.produce is not None and stage.measure is not None
        produce, measure = stage.produce, stage.measure
        key = self.key(stage, section, ctx, measured=False)
        made, status = self._through(key, stage, ctx, forced, lambda: produce(section, ctx), store_files=True)
        self._remember(StageResult(stage.name, model_dir=ctx.model_dir), key)
        if not self.measurements:
            outcome = CacheOutcome(status, key, _why(forced, status, self._broken), measured="rerun")
            return measure(section, ctx, made), outcome
        measured_key = self.key(stage, section, ctx, measured=True, chained={"artifact": key})
        result, measured = self._through(measured_key, stage, ctx, forced, lambda: measure(section, ctx, made),
                                         store_files=False)  # fmt: skip
        return result, CacheOutcome(status, key, _why(forced, status, self._broken), measured=measured)

    def _through(self, key: str, stage: Stage[Any], ctx: StageContext, forced: bool, compute: Callable[[], T],
                 store_files: bool) -> tuple[T, str]:  # fmt: skip
        """`compute()` under the key's lock, or what the cache holds for `key`; ("hit" | "miss").

        The lock makes a second concurrent run wait for the first and then hit. A miss is stored as soon
        as it is computed: that is what lets a failed run resume here.
        """
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(self.store.lock(key))
            except OSError as exc:  # an unwritable or full cache folder costs the reuse, never the run
                self._broken = f"cache unavailable ({exc.strerror or exc})"
                console.warn(f"{stage.name}: stage {self._broken}: running without it")
                return compute(), "off"
            if not forced:
                entry = self.store.lookup(key)  # verified: a corrupt entry is removed and None returned
                if entry is not None:
                    value = self._restore(entry, ctx)
                    if value is not None:
                        console.info(f"{stage.name}: cache hit (key {key[:12]}…)")
                        return value, "hit"
            value = compute()
            try:
                with _stored_view(ctx.work_dir) as folder:
                    payload = pickle.dumps(_portable(value, ctx.work_dir), protocol=pickle.HIGHEST_PROTOCOL)
                    self.store.store(key, folder if store_files else None, payload, {"stage": stage.name},
                                     link=store_files)  # fmt: skip
            except OSError as exc:
                console.warn(f"{stage.name}: not stored in the stage cache ({exc.strerror or exc})")
            return value, "miss"

    def _restore(self, entry: Any, ctx: StageContext) -> Any:
        """The entry's files into the work dir and its payload back (None: unreadable, so recompute)."""
        start = time.perf_counter()
        try:
            value = pickle.loads(entry.payload())
        except Exception as exc:  # an entry from an incompatible build: computing again is always correct
            console.warn(f"{ctx.stage}: cache entry {entry.key[:12]} unreadable ({type(exc).__name__}): recomputed")
            return None
        self.store.materialize(entry, ctx.work_dir)
        ctx.steps.append(StepMeasurement(name="restore from the stage cache", seconds=time.perf_counter() - start))
        return _rebased(value, ctx.work_dir)

    def _remember(self, result: StageResult, key: str) -> None:
        """Later stages reading this output are keyed by `key` (the chain), not by hashing it again."""
        for path in (result.model_dir, result.dataset_dir):
            if path is not None:
                self.produced[os.path.abspath(path)] = key

    # --- the key --------------------------------------------------------------------------------

    def key(self, stage: Stage[Any], section: Any, ctx: StageContext, *, measured: bool,
            chained: dict[str, str] | None = None) -> str:  # fmt: skip
        """stage_key(stage, section with input paths replaced by hashes, input hashes, versions, extra)."""
        import platform

        from ovtool.cache import library_versions, stage_key

        hashes: dict[str, str] = dict(chained or {})
        dump = self._swap_inputs(section.model_dump(mode="json"), "", hashes)
        model = ctx.input.model
        if model is not None and "artifact" not in hashes:
            hashes["model"] = self._input_hash(str(model))
        if ctx.input.source_model and "{model}" in repr(dump):  # benchmark's `{model}` placeholder
            hashes["source_model"] = self._input_hash(ctx.input.source_model)
        keyed: dict[str, Any] = {"section": dump}
        if stage.name != "convert" and ctx.input.convert is not None:  # how a non-IR input gets converted
            keyed["convert"] = ctx.input.convert.model_dump(mode="json")
        extra: dict[str, Any] = {}
        if stage.seeded:
            extra["seed"] = ctx.seed
        if measured:
            keyed["gates"] = ctx.input.gates.model_dump(mode="json") if ctx.input.gates is not None else None
            extra["measurement"] = True
        if measured or stage.machine_dependent(section):
            from ovtool.report import environment

            extra["machine"] = {"cpu": environment()["cpu"], "cores": os.cpu_count(), "system": platform.system()}
        return stage_key(stage.name, keyed, hashes, library_versions(stage.libraries), extra)

    def _swap_inputs(self, node: Any, dotted: str, hashes: dict[str, str]) -> Any:
        """The section dump with each local input path replaced by `<input>` and its hash put in `hashes`."""
        if isinstance(node, dict):
            out = {}
            for name, value in node.items():
                child = f"{dotted}.{name}" if dotted else name
                if name in PATH_KEYS and name not in NOT_INPUTS and isinstance(value, (str, list)):
                    out[name] = self._swap_paths(value, child, hashes)
                else:
                    out[name] = self._swap_inputs(value, child, hashes)
            return out
        if isinstance(node, list):
            return [self._swap_inputs(item, f"{dotted}[{i}]", hashes) for i, item in enumerate(node)]
        return node

    def _swap_paths(self, value: str | list[Any], dotted: str, hashes: dict[str, str]) -> Any:
        if isinstance(value, list):
            return [self._swap_paths(v, f"{dotted}[{i}]", hashes) if isinstance(v, str) else v
                    for i, v in enumerate(value)]  # fmt: skip
        if not value or "{" in value or not (self._chained(value) or Path(value).expanduser().exists()):
            return value  # a hub id, a placeholder: the text is the input
        hashes[dotted] = self._input_hash(value)
        return "<input>"

    def _chained(self, value: str) -> str | None:
        """`value` inside an output of an earlier stage of this run: that stage's key + the path inside it."""
        path = os.path.abspath(value)
        for produced, key in self.produced.items():
            if path == produced or path.startswith(produced.rstrip("/") + "/"):
                rel = os.path.relpath(path, produced)
                return f"stage:{key}" + ("" if rel == "." else f"/{Path(rel).as_posix()}")
        return None

    def _input_hash(self, value: str) -> str:
        chained = self._chained(value)
        if chained is not None:
            return chained
        path = Path(value).expanduser()
        if path.exists():
            return "sha256:" + self.index.path_hash(path)
        return f"name:{value}"  # a hub id: its name (a new revision on the hub is not seen; pin a local copy)


def _why(forced: bool, status: str = "", broken: str = "") -> str:
    return broken if status == "off" else "recomputed (--from)" if forced else ""


def _plain(stage: Stage[Any], section: Any, ctx: StageContext) -> StageResult:
    return stage.run(section, ctx)


@contextlib.contextmanager
def _stored_view(work_dir: Path) -> Iterator[Path]:
    """The work dir as the cache stores it: without top-level dot-entries (a stage's scratch, e.g. the
    original IR quantize converted for measuring; the staging folder's owner mark and ovtool marker).

    Where some exist, the view is a dot-folder of hard links inside the work dir itself: same filesystem,
    removed with the staging folder if the run is killed, and holding no owner mark of its own (an owner
    mark stored in an entry would be materialized into a later run's staging and name the wrong process).
    """
    hidden = [p for p in work_dir.iterdir() if p.name.startswith(".")] if work_dir.is_dir() else []
    if not hidden:
        yield work_dir
        return
    view = work_dir / f".ovtool-cache-view-{uuid.uuid4().hex[:8]}"
    view.mkdir()
    try:
        for entry in work_dir.iterdir():
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                shutil.copytree(entry, view / entry.name, copy_function=os.link)
            else:
                os.link(entry, view / entry.name)
        yield view
    finally:
        shutil.rmtree(view, ignore_errors=True)


_PATH_FIELDS = ("model_dir", "dataset_dir")


def _portable(value: Any, work_dir: Path) -> Any:
    """A StageResult with its output paths relative to the work dir (they are rebased on a hit)."""
    if not isinstance(value, StageResult):
        return value
    changes = {}
    for name in _PATH_FIELDS:
        path = getattr(value, name)
        if path is not None and Path(path).is_relative_to(work_dir):
            changes[name] = Path(os.path.relpath(path, work_dir))
    return replace(value, **changes)


def _rebased(value: Any, work_dir: Path) -> Any:
    if not isinstance(value, StageResult):
        return value
    changes = {name: work_dir / getattr(value, name) for name in _PATH_FIELDS
               if getattr(value, name) is not None and not Path(getattr(value, name)).is_absolute()}  # fmt: skip
    return replace(value, **changes)
