"""Trials of a sweep: the axis combinations (grid or seeded random), stable ids, each validated as a recipe.

A trial is the base recipe (the `sweep:` section removed) with its axis values set and its
`output` pointing at `OUT/trials/<id>`; it is validated exactly as `ovtool run --dry-run` would
(pydantic, then every stage's preflight), so invalid combinations are found before any work.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ovtool.errors import OvtoolError
from ovtool.recipe.loader import LoadedRecipe, format_validation_error
from ovtool.recipe.overrides import apply_override
from ovtool.recipe.schema import Recipe
from ovtool.recipe.sections.sweep import SweepSection
from ovtool.sweep.executors import TrialJob, set_threads

TRIALS_DIR = "trials"
SLUG_MAX = 64


@dataclass(frozen=True)
class Trial:
    """One combination of axis values and the recipe it makes; `invalid` says why it cannot run."""

    id: str
    values: dict[str, Any]
    out_dir: Path
    loaded: LoadedRecipe | None
    invalid: str | None

    def job(self, threads: int | None) -> TrialJob:
        """What an executor runs (only valid trials have one)."""
        assert self.loaded is not None, "an invalid trial is never run"
        return TrialJob(id=self.id, recipe_yaml=self.loaded.resolved_yaml(), out_dir=self.out_dir, threads=threads)


def combinations(sweep: SweepSection, recipe_seed: int = 0) -> list[dict[str, Any]]:
    """Every combination (grid, in axis order), or `samples` distinct ones drawn with the seed (random).

    Random draws indices of the grid without replacement (`random.Random(seed).sample`), so the
    same seed gives the same trials in the same order; asking for more samples than the grid
    holds gives the whole grid.
    """
    keys = list(sweep.axes)
    sizes = [len(sweep.axes[k]) for k in keys]
    if sweep.strategy == "grid":
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*sweep.axes.values())]
    total = 1
    for size in sizes:
        total *= size
    seed = sweep.seed if sweep.seed is not None else recipe_seed
    count = min(sweep.samples or total, total)
    picked = random.Random(seed).sample(range(total), count)
    return [_combination(sweep, keys, sizes, index) for index in picked]


def _combination(sweep: SweepSection, keys: list[str], sizes: list[int], index: int) -> dict[str, Any]:
    """The grid's `index`-th combination (mixed radix, the last axis fastest, like itertools.product)."""
    values: dict[str, Any] = {}
    for key, size in zip(reversed(keys), reversed(sizes), strict=True):
        index, digit = divmod(index, size)
        values[key] = sweep.axes[key][digit]
    return {key: values[key] for key in keys}


def trial_id(values: dict[str, Any]) -> str:
    """A readable slug of the values plus 8 hex of their hash: stable across runs, unique per combination."""
    canonical = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    parts = [f"{_abbrev(key)}-{_short(value)}" for key, value in values.items()]
    slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", "_".join(parts)).strip("_.")[:SLUG_MAX].rstrip("_.-")
    return f"{slug}-{digest}" if slug else digest


def _abbrev(key: str) -> str:
    """The key's last part; snake_case names by their initials (group_size → gs) to keep ids short."""
    last = key.split(".")[-1]
    return "".join(word[0] for word in last.split("_") if word) if "_" in last else last


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return "+".join(_short(v) for v in value) or "none"
    if isinstance(value, dict):
        return "+".join(_short(v) for v in value.values()) or "none"  # the hash tells keys apart
    if value is None:
        return "none"
    return Path(value).name if isinstance(value, str) and "/" in value else str(value)


def build_trials(base: LoadedRecipe, out: Path, threads: int | None = None) -> list[Trial]:
    """Every trial of the base recipe's sweep, validated; `threads` is each trial's thread budget."""
    from ovtool.runner import RunOptions, preflight

    sweep = base.recipe.sweep
    assert sweep is not None
    trials: list[Trial] = []
    for values in combinations(sweep, base.recipe.seed):
        tid = trial_id(values)
        out_dir = out / TRIALS_DIR / tid
        raw = copy.deepcopy(base.raw)
        raw.pop("sweep", None)
        raw["output"] = str(out_dir)
        try:
            for key, value in values.items():
                apply_override(raw, key.split("."), copy.deepcopy(value))
            raw = set_threads(raw, threads)
            loaded = LoadedRecipe(Recipe.model_validate(raw), raw, base.source)
            stages = loaded.recipe.stages()
            if not stages:
                raise OvtoolError("no stage sections to run")
            preflight(loaded, RunOptions(command="run", stages=stages, overwrite=True, dry_run=True))
        except ValidationError as exc:
            trials.append(Trial(tid, values, out_dir, None, "; ".join(format_validation_error(exc))))
        except OvtoolError as exc:
            trials.append(Trial(tid, values, out_dir, None, str(exc)))
        else:
            trials.append(Trial(tid, values, out_dir, loaded, None))
    return trials
