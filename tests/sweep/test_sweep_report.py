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
