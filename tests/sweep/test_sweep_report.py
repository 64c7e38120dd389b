"""The sweep's trial table shows each axis value as the recipe writes it, not as Python's repr."""

from __future__ import annotations

from ovtool.recipe.sections.sweep import SweepSection
from ovtool.sweep.report import SweepResult, flow, markdown, table
from ovtool.sweep.table import TrialRow

AXES = {"quantize.ignored_scope": [None, {"auto": {"top_k": 2}}], "quantize.fast_bias_correction": [True, False],
        "quantize.weights.group_size": [64.0, 128]}  # fmt: skip


def test_values_are_written_in_yaml_flow_style() -> None:
    assert flow({"auto": {"top_k": 2}}) == "{auto: {top_k: 2}}"
    assert flow({"names": ["a", "b"], "types": []}) == "{names: [a, b], types: []}"
    assert flow([True, None, 0.125]) == "[true, null, 0.125]"
    assert flow(128) == "128"


def test_the_trial_table_shows_recipe_values() -> None:
    sweep = SweepSection.model_validate({"axes": AXES, "objectives": [{"metric": "speedup", "goal": "max"}]})
    rows = [TrialRow("t1", {"quantize.ignored_scope": {"auto": {"top_k": 2}}, "quantize.fast_bias_correction": False,
                            "quantize.weights.group_size": 64.0}, "ok", objectives={"speedup": 1.5}),
            TrialRow("t2", {"quantize.ignored_scope": None, "quantize.fast_bias_correction": True,
                            "quantize.weights.group_size": 128}, "ok", objectives={"speedup": None})]  # fmt: skip
    columns, cells = table(SweepResult(sweep, rows))
    assert columns[1:4] == list(AXES)
    assert cells[0][1:4] == ["{auto: {top_k: 2}}", "false", "64"]
    assert cells[1][1:5] == ["—", "true", "128", "—"]
    assert "{auto: {top_k: 2}}" in markdown(SweepResult(sweep, rows))
    assert "{'auto'" not in markdown(SweepResult(sweep, rows))


def test_exact_values_read_back_as_set_items() -> None:
    """The dry run prints KEY=VALUE with these: each value must parse back to itself, as `--set` reads it."""
    from ovtool.recipe.overrides import parse_set

    values = [None, {"auto": {"top_k": 2}}, True, 0.1, 1e-05, 3.0, "mixed", "true", "3", "a: b", "x,y",
              {"names": ["n1", "[odd"], "types": []}]  # fmt: skip
    for value in values:
        assert parse_set(f"quantize.x={flow(value, exact=True)}") == (["quantize", "x"], value), value
    assert flow(None, exact=True) == "null" and flow(1e-05, exact=True) == "1.0e-05"


def test_dry_run_lists_values_as_set_reads_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from tests.conftest import ROOT, run_cli

    recipe = yaml.safe_load((ROOT / "recipes" / "minilm-bbc-int8-sweep.yaml").read_text())
    recipe["model"] = str(ROOT / ".assets" / "minilm-bbc")
    for section in ("calibration", "evaluation"):
        recipe["quantize"][section]["path"] = str(ROOT / ".assets" / "bbcnews" / "data")
    recipe["sweep"]["axes"] = {"quantize.ignored_scope": [None, {"auto": {"top_k": 2}}]}
    recipe["sweep"]["strategy"] = "grid"
    del recipe["sweep"]["samples"], recipe["sweep"]["seed"]
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(recipe))
    done = run_cli("sweep", path, "--dry-run", "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    listed = sorted(line.split("\t")[1] for line in done.stdout.splitlines())
    assert listed == ["quantize.ignored_scope=null", "quantize.ignored_scope={auto: {top_k: 2}}"]
