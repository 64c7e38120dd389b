"""Read a recipe (YAML + overrides), validate it once, and report every problem at once."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ovtool.errors import RecipeError
from ovtool.recipe.overrides import apply_overrides
from ovtool.recipe.schema import Recipe


@dataclass(frozen=True)
class LoadedRecipe:
    """The validated recipe, the raw dict it came from, and where it came from."""

    recipe: Recipe
    raw: dict[str, Any]
    source: str | None

    def resolved_yaml(self) -> str:
        """The fully resolved recipe (defaults filled in) as YAML; `ovtool run` reproduces from it."""
        data = self.recipe.model_dump(mode="json", exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def sha256(self) -> str:
        return hashlib.sha256(self.resolved_yaml().encode()).hexdigest()


def read_yaml(path: Path) -> dict[str, Any]:
    """safe_load only: a `!!python/...` tag is an error, never executed."""
    if not path.exists():
        raise RecipeError([f"recipe file not found: {path}"])
    if path.is_dir():
        raise RecipeError([f"{path} is a folder; give a recipe .yaml file"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError([_yaml_problem(exc)], source=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise RecipeError(["the file is not UTF-8 text"], source=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(
            [f"the top level must be a mapping of keys (model:, convert:, …), not a {type(data).__name__}"],
            source=str(path),
        )
    return data


def load_recipe(
    path: Path | None,
    sets: list[str] | tuple[str, ...] = (),
    flags: dict[str, Any] | None = None,
) -> LoadedRecipe:
    """YAML (optional) + flags + `--set` items → a validated Recipe, or RecipeError listing all problems."""
    raw = read_yaml(path) if path is not None else {}
    source = str(path) if path is not None else None
    raw = apply_overrides(raw, list(sets), flags or {})
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(format_validation_error(exc), source=source) from exc
    return LoadedRecipe(recipe=recipe, raw=raw, source=source)


def format_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem: dotted path, what is wrong, and the fix where we can guess it."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        dotted = ".".join(loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(f"{dotted}: unknown key{_suggestion(loc)}")
        elif kind in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            problems.append(f"{dotted}: {err['input']!r} is not one of {_plain_choices(expected)}")
        elif kind == "missing":
            problems.append(f"{dotted}: required key is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{dotted}: {msg} (got {_short(err.get('input'))})")
    return problems


def _plain_choices(expected: str) -> str:
    return expected.replace("'", "").replace(" or ", ", ")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggestion(loc: list[str]) -> str:
    """'did you mean weight_format?' from the fields of the model the key sits in."""
    known = _fields_at(loc[:-1])
    if not known:
        return ""
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    return f" (known keys: {', '.join(known)})"


def _fields_at(loc: list[str]) -> list[str]:
    model: Any = Recipe
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part)
        if field is None:
            return []  # dict keys (e.g. an input name) or list indexes: no fixed field set
        model = _model_of(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_of(annotation: Any) -> Any:
    """The BaseModel inside `X | None`, `list[X]` or `dict[str, X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, yaml.constructor.ConstructorError):
        problem = f"{problem} (tags are not allowed; recipes are plain YAML)"
    if mark is not None:
        return f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML error: {problem}"
