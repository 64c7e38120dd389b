"""Recipe loading: safe YAML, --set overrides, every problem at once with dotted paths and fixes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovtool.errors import RecipeError
from ovtool.recipe.loader import load_recipe
from ovtool.recipe.overrides import apply_override, parse_set

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def problems_of(path: Path | None, sets: list[str] | None = None) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, sets or [])
    return info.value.problems


def test_valid_recipe_fills_defaults(tmp_path: Path) -> None:
    loaded = load_recipe(write(tmp_path, "model: m.onnx\noutput: out\nconvert: {weight_format: fp16}\n"))
    assert loaded.recipe.convert is not None
    assert loaded.recipe.convert.weight_format == "fp16"
    assert loaded.recipe.convert.source_format == "auto"
    assert loaded.recipe.stages() == ["convert"]
    assert "source_format: auto" in loaded.resolved_yaml()


def test_invalid_enum_names_path_and_choices(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "convert: {weight_format: int13}\n"))
    assert problem == "convert.weight_format: 'int13' is not one of fp32, fp16, int8, int4, mxfp4, nf4, cb4"


def test_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "convert: {wieght_format: fp16}\n"))
    assert problem == "convert.wieght_format: unknown key (did you mean weight_format?)"


def test_a_key_of_another_section_is_pointed_there(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "model: m.onnx\nverb: stats\n"))
    assert problem == "verb: unknown key (did you mean dataset.verb?)"
    (problem,) = problems_of(write(tmp_path, "model: m.onnx\nconvert: {preset: mixed}\n"))
    assert problem == "convert.preset: unknown key (did you mean quantize.preset?)"


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "modle: x\nconvert: {weight_format: int13, task: [1]}\nseed: abc\n"))
    joined = "\n".join(problems)
    assert len(problems) == 4
    for fragment in ("modle: unknown key (did you mean model?)", "convert.weight_format", "convert.task", "seed"):
        assert fragment in joined


def test_wrong_type_is_reported_with_the_value(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "convert: {trust_remote_code: maybe}\n"))
    assert problem.startswith("convert.trust_remote_code:") and "'maybe'" in problem


def test_python_tags_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, f"!!python/object/apply:os.system ['touch {marker}']\n")
    (problem,) = problems_of(path)
    assert "tags are not allowed" in problem
    assert not marker.exists()


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "model: x\nconvert: [\n"))
    assert problem.startswith("YAML error at line")


def test_non_mapping_root(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "- convert\n- quantize\n"))
    assert "top level must be a mapping" in problem


def test_set_overrides_win_and_are_yaml_typed(tmp_path: Path) -> None:
    path = write(tmp_path, "model: a\nconvert: {weight_format: fp32}\n")
    loaded = load_recipe(path, ["convert.weight_format=fp16", "convert.trust_remote_code=true", "seed=7"])
    assert loaded.recipe.convert is not None
    assert loaded.recipe.convert.weight_format == "fp16"
    assert loaded.recipe.convert.trust_remote_code is True
    assert loaded.recipe.seed == 7


def test_flags_override_recipe_but_none_does_not(tmp_path: Path) -> None:
    path = write(tmp_path, "model: a\noutput: o\n")
    loaded = load_recipe(path, [], {"model": "b", "output": None, "convert.trust_remote_code": False})
    assert loaded.recipe.model == "b"
    assert loaded.recipe.output == "o"
    assert loaded.recipe.convert is not None and loaded.recipe.convert.trust_remote_code is False


def test_set_without_equals_is_an_error() -> None:
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        parse_set("convert.task")


def test_set_into_a_scalar_is_an_error() -> None:
    with pytest.raises(RecipeError, match="cannot set"):
        apply_override({"model": "x"}, ["model", "inner"], 1)


@given(st.lists(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), min_size=1, max_size=4), st.integers())
def test_parse_set_round_trips_dotted_keys(parts: list[str], value: int) -> None:
    path, parsed = parse_set(".".join(parts) + f"={value}")
    assert path == parts and parsed == value
    raw: dict = {}
    apply_override(raw, path, parsed)
    node = raw
    for part in parts[:-1]:
        node = node[part]
    assert node[parts[-1]] == value


def test_input_shape_dims_validated(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, "convert: {inputs: {images: {shape: [1, 0, '1..x']}}}\n"))
    assert problem.startswith("convert.inputs.images.shape:")


def test_every_shipped_recipe_validates() -> None:
    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert recipes, "recipes/ is empty"
    for path in recipes:
        load_recipe(path)


def test_every_starter_validates(tmp_path: Path) -> None:
    from ovtool.recipe.starters import available, starter_text

    kinds = available()
    assert "convert" in kinds
    for kind in kinds:
        load_recipe(write(tmp_path, starter_text(kind)))


def test_starters_are_the_shipped_recipes() -> None:
    """`ovtool recipe init KIND` hands out a shipped recipe verbatim (the generic convert template aside), so a
    change to a recipe in recipes/ cannot leave a stale copy behind in the starters."""
    from ovtool.recipe.starters import available, starter_text

    shipped = {path.read_text() for path in (ROOT / "recipes").glob("*.yaml")}
    stale = [kind for kind in available() if kind != "convert" and starter_text(kind) not in shipped]
    assert not stale, f"starters differing from every recipes/*.yaml: {stale}"
