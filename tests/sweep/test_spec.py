"""Trial expansion (grid, seeded random), stable ids, the sweep schema, and every trial validated up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovtool.errors import RecipeError
from ovtool.recipe.loader import load_recipe
from ovtool.recipe.sections.sweep import SweepSection
from ovtool.sweep.spec import build_trials, combinations, trial_id
from tests.conftest import NUDENET_ONNX

OBJ = [{"metric": "output_similarity", "goal": "max"}]


def _sweep(**kw: object) -> SweepSection:
    return SweepSection.model_validate({"objectives": OBJ, **kw})


def test_grid_is_every_combination_in_axis_order() -> None:
    sweep = _sweep(axes={"a.x": [1, 2, 3], "b.y": [True, False]})
    combos = combinations(sweep)
    assert len(combos) == 6
    assert combos[0] == {"a.x": 1, "b.y": True} and combos[-1] == {"a.x": 3, "b.y": False}


def test_random_is_reproducible_by_seed_and_distinct() -> None:
    axes = {"a.x": list(range(10)), "b.y": list(range(10))}
    first = combinations(_sweep(axes=axes, strategy="random", samples=7, seed=3))
    again = combinations(_sweep(axes=axes, strategy="random", samples=7, seed=3))
    other = combinations(_sweep(axes=axes, strategy="random", samples=7, seed=4))
    assert first == again and first != other
    assert len({tuple(c.values()) for c in first}) == 7
    grid = combinations(_sweep(axes=axes))
    assert all(c in grid for c in first)
    # the recipe's seed is the default; more samples than the grid holds gives the grid
    assert combinations(_sweep(axes=axes, strategy="random", samples=7), recipe_seed=3) == first
    assert len(combinations(_sweep(axes={"a.x": [1, 2]}, strategy="random", samples=9))) == 2


def test_trial_ids_are_stable_readable_and_unique() -> None:
    values = {"quantize.weights.group_size": 64, "quantize.weights.awq": True}
    assert trial_id(values) == trial_id(dict(values))
    assert trial_id(values).startswith("gs-64_awq-on-")
    assert trial_id(values) != trial_id({**values, "quantize.weights.awq": False})
    assert trial_id({"a.b": "x/../y"}).count("/") == 0  # always one folder name


@pytest.mark.parametrize(
    ("sweep", "problem"),
    [
        ({"axes": {}, "objectives": OBJ}, "sweep.axes"),
        ({"axes": {"output": ["a"]}, "objectives": OBJ}, "cannot be swept"),
        ({"axes": {"a.b": []}, "objectives": OBJ}, "at least one value"),
        ({"axes": {"a.b": [1]}, "objectives": OBJ, "strategy": "random"}, "needs samples"),
        ({"axes": {"a.b": [1]}, "objectives": OBJ, "choose": {"by": "speed"}}, "not an objective"),
        ({"axes": {"a.b": [1]}, "objectives": OBJ, "executor": "slurm"}, "sweep.executor"),
    ],
)
def test_sweep_section_errors_name_the_key(tmp_path: Path, sweep: dict, problem: str) -> None:
    import yaml

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"model": str(NUDENET_ONNX), "convert": {}, "sweep": sweep}))
    with pytest.raises(RecipeError, match=problem):
        load_recipe(recipe)


def test_each_trial_is_validated_as_a_whole_recipe(tmp_path: Path) -> None:
    """pydantic (subset_size 0) and a stage's preflight (a missing calibration folder) both make a trial invalid."""
    import yaml

    calib = tmp_path / "calib"
    calib.mkdir()
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": str(NUDENET_ONNX),
        "quantize": {"calibration": {"kind": "image", "path": str(calib), "format": "image_folder"}},
        "sweep": {"axes": {"quantize.subset_size": [0, 5],
                           "quantize.calibration.path": [str(calib), str(tmp_path / "nope")]},
                  "objectives": OBJ},
    }))  # fmt: skip
    trials = build_trials(load_recipe(recipe), tmp_path / "out")
    by_values = {(t.values["quantize.subset_size"], Path(t.values["quantize.calibration.path"]).name): t
                 for t in trials}  # fmt: skip
    assert len(trials) == 4
    assert "quantize.subset_size" in (by_values[(0, "calib")].invalid or "")
    assert "nope" in (by_values[(5, "nope")].invalid or "")
    good = by_values[(5, "calib")]
    assert "path-calib" in good.id and "ss-5" in good.id
    assert good.invalid is None and good.loaded is not None
    assert good.loaded.recipe.sweep is None  # a trial is a plain recipe
    assert good.loaded.recipe.output == str(tmp_path / "out" / "trials" / good.id)
