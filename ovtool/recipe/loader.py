"""Read a recipe (YAML + overrides), validate it once, and report every problem at once."""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import reprlib
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from ovtool.errors import RecipeError
from ovtool.recipe import safe_yaml
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
        return yaml.safe_dump(self.dump(), sort_keys=False, allow_unicode=True)

    def dump(self, include: set[str] | None = None) -> dict[str, Any]:
        """`recipe.model_dump(mode="json", exclude_none=True, include=include)`, key by key.

        Dumping the whole Recipe would build its serializer for every section (~40 ms a call, see
        `validate`); each present section's own serializer gives the same dict.
        """
        data: dict[str, Any] = {}
        for name in Recipe.model_fields:
            value = getattr(self.recipe, name)
            if value is None or (include is not None and name not in include):
                continue
            data[name] = value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else value
        return data

    def sha256(self) -> str:
        return hashlib.sha256(self.resolved_yaml().encode()).hexdigest()


MAX_RECIPE_BYTES = 2 * 1024 * 1024  # recipes are a few KB; anything this big is not one
MAX_PROBLEMS = 50  # problems listed one per line; the rest are counted


def read_yaml(path: Path) -> dict[str, Any]:
    """The recipe's top-level mapping, parsed within limits (safe_yaml); a `!!python/...` tag is an error, never run."""
    text = _read_text(path)
    try:
        data = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        raise RecipeError([_yaml_problem(exc)], source=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(
            [f"the top level must be a mapping of keys (model:, convert:, …), not a {type(data).__name__}"],
            source=str(path),
        )
    return data


def _read_text(path: Path) -> str:
    """A regular file's text, at most MAX_RECIPE_BYTES: a FIFO or device could block or never end."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise RecipeError([f"recipe file not found: {path}"]) from None
    except (OSError, ValueError) as exc:
        raise RecipeError([f"cannot read the recipe {path}: {_os_reason(exc)}"]) from exc
    if stat.S_ISDIR(info.st_mode):
        raise RecipeError([f"{path} is a folder; give a recipe .yaml file"])
    _refuse_special(path, info.st_mode)
    _refuse_large(path, info.st_size)
    try:  # O_NONBLOCK: should the path turn into a FIFO after the stat, opening it still returns at once
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            _refuse_special(path, os.fstat(file.fileno()).st_mode)
            data = file.read(MAX_RECIPE_BYTES + 1)
    except OSError as exc:
        raise RecipeError([f"cannot read the recipe {path}: {_os_reason(exc)}"]) from exc
    _refuse_large(path, len(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecipeError(["the file is not UTF-8 text"], source=str(path)) from exc


def _refuse_special(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = {stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}  # fmt: skip
    kind = next((name for test, name in kinds.items() if test(mode)), "not a regular file")
    raise RecipeError([f"{path} is {kind}; give a recipe .yaml file (a regular file)"])


def _refuse_large(path: Path, size: int) -> None:
    if size > MAX_RECIPE_BYTES:
        limit = MAX_RECIPE_BYTES // (1024 * 1024)
        raise RecipeError([f"{path} is larger than {limit} MB; a recipe is a small YAML file"])


def _os_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


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
        recipe = validate(raw)
    except ValidationError as exc:
        raise RecipeError(format_validation_error(exc), source=source) from exc
    return LoadedRecipe(recipe=recipe, raw=raw, source=source)


def validate(raw: dict[str, Any]) -> Recipe:
    """`Recipe.model_validate(raw)`, building the schema of only the sections present.

    The section models defer their schema build (sections/base.py): a one-prompt `ovtool generate`
    builds the generate section's, not all nine (~40 ms of every call). Any problem falls back to
    the whole Recipe's validation, so error messages, their order and locations stay its own.
    """
    if not isinstance(raw, dict) or not set(raw) <= set(Recipe.model_fields):
        return Recipe.model_validate(raw)
    values: dict[str, Any] = {}
    try:
        for name, value in raw.items():
            values[name] = _field_adapter(name).validate_python(value)
    except ValidationError:
        return Recipe.model_validate(raw)  # raises the whole Recipe's own error list
    return Recipe.model_construct(**values)


@functools.cache
def _field_adapter(name: str) -> TypeAdapter[Any]:
    field = Recipe.model_fields[name]  # its constraints (metadata) too, not only the type
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)


def format_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem: dotted path, what is wrong, and the fix where we can guess it."""
    problems = []
    errors = exc.errors()
    for err in errors[:MAX_PROBLEMS]:
        loc = [str(p) for p in err["loc"]]
        dotted = ".".join(loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(f"{dotted}: unknown key{_suggestion(loc)}")
        elif kind in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            problems.append(f"{dotted}: {_short(err['input'])} is not one of {_plain_choices(expected)}")
        elif kind == "missing":
            problems.append(f"{dotted}: required key is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{dotted}: {msg} (got {_short(err.get('input'))})")
    if len(errors) > MAX_PROBLEMS:
        problems.append(f"… and {len(errors) - MAX_PROBLEMS} more problems")
    return problems


def _plain_choices(expected: str) -> str:
    return expected.replace("'", "").replace(" or ", ", ")


class _ShortRepr(reprlib.Repr):
    """repr that stops early: an input may be a big or deep value, and repr of an int past 4300 digits raises."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxset, self.maxtuple = 3, 4, 4, 4, 4
        self.maxstring, self.maxlong, self.maxother = 60, 40, 60

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 256:
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


def _short(value: Any) -> str:
    text = _ShortRepr().repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggestion(loc: list[str]) -> str:
    """'did you mean weight_format?' from the fields of the model the key sits in."""
    known = _fields_at(loc[:-1])
    if not known:
        return ""
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    elsewhere = [f"{section}.{loc[-1]}" for section in _sections_with(loc[-1]) if loc[:1] != [section]]
    if elsewhere:  # a section's key at the top level, or in the wrong section
        return f" (did you mean {' or '.join(elsewhere)}?)"
    return f" (known keys: {', '.join(known)})"


def _sections_with(key: str) -> list[str]:
    """The recipe's sections (convert, quantize…) that have `key` as one of their own keys."""
    return [name for name in Recipe.model_fields if key in _fields_at([name])]


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
    if isinstance(exc, safe_yaml.YamlLimitError):
        return str(exc)
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, yaml.constructor.ConstructorError) and "constructor for the tag" in problem:
        problem = f"{problem} (tags are not allowed; recipes are plain YAML)"
    if mark is not None:
        return f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML error: {problem}"
