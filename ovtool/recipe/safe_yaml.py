"""`yaml.safe_load` with limits, so a hostile recipe is refused in milliseconds instead of eating memory.

A recipe is a small tree. Aliases (`*name`) are allowed but budgeted: a few hundred bytes of nested
aliases ("billion laughs") otherwise expand to billions of values once something walks the data.
Nesting is bounded (deep input would end in RecursionError), mapping keys must be unique (YAML 1.2;
PyYAML silently keeps the last one), and values Python cannot build (a 31st of February, an integer
of 5000 digits) become YAML errors instead of ValueError.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64  # nesting levels, aliases expanded; recipes use fewer than ten
MAX_ALIASES = 200  # alias uses (`*name`) per document
MAX_ALIAS_VALUES = 10_000  # values all alias uses expand to, together
MAX_INT_BITS = 332  # about 100 digits; `0x…` and `1:2:3…` integers are otherwise unbounded and unprintable

_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_MERGE_KEY = object()  # `<<` stands for itself in the duplicate check


class YamlLimitError(yaml.YAMLError):
    """YAML refused for its shape (alias bomb, nesting, duplicate key); the message is one finished line."""


class RecipeLoader(yaml.SafeLoader):
    """SafeLoader that counts depth and alias expansion while composing and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._alias_values = 0
        self._open_anchors: set[str] = set()
        self._shape: dict[Node, tuple[int, int]] = {}  # node -> (values, height) with aliases expanded
        self._keys_checked: set[Node] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias is left to PyYAML's own error
                self._count_alias(event, target)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(f"nesting deeper than {MAX_DEPTH} levels at {_line(event)}; recipes are shallow")
        anchor = event.anchor
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)

    def _count_alias(self, event: yaml.AliasEvent, target: Node) -> None:
        where = _line(event)
        if event.anchor in self._open_anchors:
            raise YamlLimitError(f"alias *{event.anchor} at {where} refers to a value that contains it; "
                                 "recipes cannot be recursive")  # fmt: skip
        values, height = self._measure(target)
        self._aliases += 1
        self._alias_values += values
        if self._aliases > MAX_ALIASES:
            raise YamlLimitError(f"more than {MAX_ALIASES} aliases (*name) at {where}; recipes need only a few")
        if self._alias_values > MAX_ALIAS_VALUES:
            raise YamlLimitError(f"aliases expand to more than {MAX_ALIAS_VALUES} values at {where} "
                                 "(an alias bomb?); recipes need only a few small aliases")  # fmt: skip
        if self._depth + height > MAX_DEPTH:
            raise YamlLimitError(f"nesting deeper than {MAX_DEPTH} levels (aliases expanded) at {where}; "
                                 "recipes are shallow")  # fmt: skip

    def _measure(self, node: Node) -> tuple[int, int]:
        """Values and levels `node` stands for with every alias in it expanded (memoised: a DAG, not a tree)."""
        known = self._shape.get(node)
        if known is not None:
            return known
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        shapes = [self._measure(child) for child in children]  # heights are bounded, so is this recursion
        shape = (1 + sum(s[0] for s in shapes), 1 + max((s[1] for s in shapes), default=0))
        self._shape[node] = shape
        return shape

    def flatten_mapping(self, node: MappingNode) -> None:
        # Called on every mapping before its `<<` merges are folded in: the only moment the keys
        # written in the file can be told apart from merged ones (which may repeat them legally).
        if node not in self._keys_checked:
            self._keys_checked.add(node)
            self._refuse_duplicate_keys(node)
        super().flatten_mapping(node)

    def _refuse_duplicate_keys(self, node: MappingNode) -> None:
        first: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                continue  # a sequence or mapping as a key is refused by PyYAML as unhashable
            if key_node.tag == _MERGE_TAG:
                key: Any = _MERGE_KEY
            elif key_node.tag == _VALUE_TAG:
                key = key_node.value
            else:
                key = self.construct_object(key_node)
            try:
                seen = first.get(key)
            except TypeError:
                continue  # unhashable: PyYAML's own error follows
            if seen is not None:
                name = "<<" if key is _MERGE_KEY else str(key)[:60]
                raise YamlLimitError(f"duplicate key `{name}` at line {key_node.start_mark.line + 1} "
                                     f"(first at line {seen.line + 1})")  # fmt: skip
            first[key] = key_node.start_mark

    def construct_yaml_int(self, node: ScalarNode) -> int:
        # A literal this long is past the bound whatever its base (and int() of 4300+ digits raises).
        too_long = isinstance(node.value, str) and len(node.value.replace("_", "").lstrip("+-0")) > 1000
        value = 0 if too_long else super().construct_yaml_int(node)
        if too_long or value.bit_length() > MAX_INT_BITS:
            raise ConstructorError(None, None, "an integer of more than 100 digits; no recipe value is that big",
                                   node.start_mark)  # fmt: skip
        return value

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        # PyYAML's scalar constructors trust their input: 2024-02-31 (ValueError), `!!int ""` (IndexError),
        # `!!bool maybe` (KeyError), `!!timestamp x` (AttributeError) all escape as plain exceptions.
        except (ValueError, OverflowError, IndexError, KeyError, AttributeError, TypeError) as exc:
            problem = f"not a valid {node.tag.rpartition(':')[2] or 'value'}"
            if isinstance(exc, (ValueError, OverflowError)) and str(exc).strip():  # the others say nothing useful
                problem += f" ({str(exc).strip().splitlines()[0][:100]})"
            raise ConstructorError(None, None, problem, node.start_mark) from exc


RecipeLoader.add_constructor("tag:yaml.org,2002:int", RecipeLoader.construct_yaml_int)


def load(text: str) -> Any:
    """Parse one YAML document within the limits; raises a yaml.YAMLError for anything refused."""
    loader = RecipeLoader(text)
    try:
        return _unshared(loader.get_single_data())
    finally:
        loader.dispose()


def _unshared(value: Any) -> Any:
    """A copy in which no two places share a dict or list, so an override of one leaves its alias alone."""
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    return value


def _line(event: yaml.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}" if mark is not None else "an unknown line"
