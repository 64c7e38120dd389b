"""`--set a.b=c` overrides, applied to the raw recipe dict before validation."""

from __future__ import annotations

from typing import Any

import yaml

from ovtool.errors import RecipeError, first_line
from ovtool.recipe import safe_yaml


def parse_set(item: str) -> tuple[list[str], Any]:
    """`a.b=c` -> (['a', 'b'], c) with c typed as YAML (so `true`, `3`, `[1, 2]` work)."""
    key, sep, text = item.partition("=")
    path = key.strip().split(".")
    if not sep or not key.strip() or any(not part for part in path):
        raise RecipeError([f"--set {_shown(item)}: expected KEY=VALUE with a dotted key, e.g. convert.task=fill-mask"])
    if len(path) > safe_yaml.MAX_DEPTH:
        raise RecipeError([f"--set {_shown(item)}: the key has more than {safe_yaml.MAX_DEPTH} parts"])
    try:
        value = safe_yaml.load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise RecipeError([f"--set {_shown(item)}: the value is not valid YAML ({first_line(exc)})"]) from exc
    return path, value


def _shown(item: str) -> str:
    """The item as typed, cut short: the error stays one readable line."""
    text = repr(item)
    return text if len(text) <= 80 else text[:77] + "..."


def apply_override(raw: dict[str, Any], path: list[str], value: Any) -> None:
    """Set raw[path] = value, creating mappings on the way; `None` values are not applied."""
    node = raw
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(path[: depth + 1])
            raise RecipeError([f"{where}: is a {type(child).__name__}, cannot set {'.'.join(path)} inside it"])
        node = child
    node[path[-1]] = value


def apply_overrides(raw: dict[str, Any], sets: list[str], flags: dict[str, Any]) -> dict[str, Any]:
    """Flags first, then `--set` items (a later item wins). Flags left out (None) change nothing."""
    for dotted, value in flags.items():
        if value is not None:
            apply_override(raw, dotted.split("."), value)
    for item in sets:
        apply_override(raw, *parse_set(item))
    return raw


