"""Properties of recipe loading: whatever the file or `--set` holds, the answer is a recipe or a RecipeError.

Anything else (a ValueError from PyYAML, a RecursionError, a crash while printing the resolved recipe)
would reach the user as a traceback or exit 1 where exit 2 names the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ovtool.errors import UserError
from ovtool.recipe.loader import load_recipe
from ovtool.recipe.overrides import apply_overrides, parse_set
from ovtool.recipe.schema import Recipe
from tests.conftest import run_cli

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _field_names(model: type[BaseModel], seen: set[type]) -> set[str]:
    """Every key the schema knows, at any depth: generated recipes then reach the validators, not only extra=forbid."""
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            ann = stack.pop()
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                names |= _field_names(ann, seen)
            stack.extend(getattr(ann, "__args__", ()))
    return names


KEYS = sorted(_field_names(Recipe, set()))

# Pieces of YAML syntax and of recipes; random sequences of them reach far more of the parser and the
# constructors (anchors, tags, merges, timestamps, sexagesimal ints, odd indentation) than random text does.
TOKENS = [
    "\n", "  ", " ", "- ", ": ", "? ", "[", "]", "{", "}", ", ", "&a ", "*a", "&b ", "*b", "<<: ", "!!int ",
    "!!float ", "!!bool ", "!!timestamp ", "!!binary ", "!!set ", "!!omap ", "!!str ", "!!python/name:os.system ",
    "!custom ", "'", '"', "|", ">", "#", "---\n", "...\n", "%YAML 1.1\n", "~", "null", "true", "no", "0x1F",
    "0o17", "017", "1_000", "1:30:00", "2024-02-31", "2024-01-01T10:00:00+25:00", ".nan", "-.inf", "1e400",
    "9" * 30, "\t", "\\u0000", "=", "=", ".", "é", "\ufeff", "\x85", "fp16", "int8", "models/a.onnx", "*",
]  # fmt: skip
yaml_ish = st.lists(st.sampled_from(TOKENS + KEYS), max_size=40).map("".join)

scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(KEYS)
key = st.sampled_from(KEYS) | st.text(max_size=8)
json_like = st.recursive(
    scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=4), max_leaves=20
)
recipe_like = st.dictionaries(st.sampled_from(KEYS), json_like, max_size=6)

set_item = st.one_of(
    st.text(max_size=40),
    st.builds(lambda keys, value: ".".join(keys) + "=" + value,
              st.lists(st.sampled_from(KEYS) | st.text(max_size=5), min_size=1, max_size=4), yaml_ish),
)  # fmt: skip


@pytest.fixture(scope="module")
def recipe_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file each example overwrites (a function-scoped tmp_path would be shared across examples anyway)."""
    return tmp_path_factory.mktemp("props") / "recipe.yaml"


def loads_or_refuses(path: Path | None, sets: list[str] | None = None) -> None:
    """The property: a valid recipe (that can also be printed and hashed) or a UserError, nothing else."""
    try:
        loaded = load_recipe(path, sets or [])
    except UserError:
        return
    assert isinstance(loaded.resolved_yaml(), str)
    assert len(loaded.sha256()) == 64


@FAST
@given(text=st.text(max_size=300))
def test_any_text_loads_or_is_refused(recipe_path: Path, text: str) -> None:
    recipe_path.write_text(text, encoding="utf-8", errors="surrogatepass")
    loads_or_refuses(recipe_path)


@FAST
@given(data=st.binary(max_size=300))
def test_any_bytes_load_or_are_refused(recipe_path: Path, data: bytes) -> None:
    recipe_path.write_bytes(data)
    loads_or_refuses(recipe_path)


@FAST
@given(text=yaml_ish)
def test_yaml_syntax_soup_loads_or_is_refused(recipe_path: Path, text: str) -> None:
    recipe_path.write_text(text, encoding="utf-8")
    loads_or_refuses(recipe_path)


@FAST
@given(raw=recipe_like)
def test_recipe_shaped_data_loads_or_is_refused(recipe_path: Path, raw: dict[str, Any]) -> None:
    recipe_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    loads_or_refuses(recipe_path)


@FAST
@given(sets=st.lists(set_item, max_size=4), raw=recipe_like)
def test_any_set_items_apply_or_are_refused(recipe_path: Path, sets: list[str], raw: dict[str, Any]) -> None:
    recipe_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    loads_or_refuses(recipe_path, sets)
    loads_or_refuses(None, sets)


@FAST
@given(item=set_item)
def test_parse_set_returns_a_path_and_value_or_refuses(item: str) -> None:
    try:
        path, _ = parse_set(item)
    except UserError:
        return
    assert path and all(path)
    apply_overrides({}, [item], {})  # a fresh recipe can always take a parsed item


@pytest.mark.slow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=yaml_ish, sets=st.lists(set_item.filter(lambda s: not s.startswith("-") and "\x00" not in s), max_size=2))
def test_cli_exits_0_or_2_on_generated_recipes(tmp_path: Path, text: str, sets: list[str]) -> None:
    """Through the real entry point (kept to a few examples: each starts a process)."""
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    set_args = [arg for item in sets for arg in ("--set", item)]
    for args in (["recipe", "validate", path], ["convert", path, "--dry-run", *set_args]):
        proc = run_cli(*args, timeout=60)
        assert proc.returncode in (0, 2), f"{args}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr
