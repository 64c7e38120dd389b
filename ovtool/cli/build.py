"""Typer commands generated from a flag table (ovtool/cli/flags.py): signature, help, examples.

Why generated: the signature Typer reads and the flag → recipe-key mapping come from the same
`Flag`s, so they cannot drift and adding a flag is one line. Signatures carry real types (not
strings), so Typer evaluates no annotations while it builds the commands for `ovtool --help`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import typer

from ovtool.cli.common import guarded, run_stage_command
from ovtool.cli.flags import PANELS, Flag, to_recipe
from ovtool.cli.index import SUMMARIES


@dataclass(frozen=True)
class Example:
    """A runnable example shown in a command's help (and dry-run by the tests from the repo root)."""

    argv: str  # after `ovtool `
    what: str


def examples(text: str) -> tuple[Example, ...]:
    """Examples written as a shell session: `# what` over `COMMAND ARGS` (no `ovtool`), `\\` continues."""
    out: list[Example] = []
    what = ""
    for line in text.replace("\\\n", " ").splitlines():
        line = " ".join(line.split())
        if line.startswith("# "):
            what = line[2:]
        elif line:
            out.append(Example(line, what))
            what = ""
    return tuple(out)


@dataclass
class Call:
    """One invocation: the parsed values by flag name, and the recipe keys they set."""

    command: str
    flags: tuple[Flag, ...]
    values: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def recipe(self) -> Path | None:
        """RECIPE or -r/--recipe (the same thing; giving both is a usage error)."""
        positional, option = self.values.get("recipe"), self.values.get("recipe_option")
        if positional is not None and option is not None:
            from ovtool.errors import UserError

            raise UserError(f"two recipes ({positional}, {option}): give RECIPE or -r/--recipe, not both")
        return positional if positional is not None else option

    def recipe_flags(self) -> dict[str, Any]:
        return to_recipe(self.flags, self.values)

    def run(self, *, flags: Mapping[str, Any] | None = None, stages: list[str] | None = None,
            from_stage: str | None = None) -> None:  # fmt: skip
        """The shared body: load the recipe with these flags, run the stage(s), print the result."""
        v = self.values
        run_stage_command(
            self.command, recipe=self.recipe(), sets=v["sets"], overwrite=v["overwrite"], wait=v["wait"],
            dry_run=v["dry_run"], json_out=v["json_out"], verbose=v["verbose"], quiet=v["quiet"],
            flags=dict(self.recipe_flags() if flags is None else flags), stages=stages, from_stage=from_stage,
        )  # fmt: skip


def command(
    name: str,
    flags: tuple[Flag, ...],
    summary: str = "",
    *,
    examples: tuple[Example, ...] = (),
    body: Callable[[Call], None] | None = None,
    details: str = "",
) -> Callable[..., None]:
    """A Typer command function for `flags`: by default it runs stage `name` with the mapped keys.

    The summary defaults to the command index's (ovtool/cli/index.py), which root help lists.
    """
    summary = summary or SUMMARIES[name]
    names = [f.name for f in flags]
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: two flags share a parameter name: {names}")
    ordered = sorted(flags, key=lambda f: (not f.argument, PANELS.index(f.panel) if not f.argument else 0))

    def invoke(**values: Any) -> None:
        call = Call(name, flags, values)
        (body or Call.run)(call)

    func = guarded(invoke)
    func.__name__ = func.__qualname__ = name.replace("-", "_")
    func.__doc__ = help_text(summary, details, examples)
    func.__signature__ = inspect.Signature([_parameter(f) for f in ordered])  # type: ignore[attr-defined]
    func.__annotations__ = {}  # the signature holds the real types: nothing for Typer to evaluate
    func.examples = examples  # type: ignore[attr-defined]
    func.flags = flags  # type: ignore[attr-defined]
    return func


def help_text(summary: str, details: str = "", examples: tuple[Example, ...] = ()) -> str:
    """Summary, details and an Examples block (Rich markup; single line breaks are kept there)."""
    parts = [summary]
    if details:
        parts.append(escape(details))
    if examples:
        lines = ["[bold]Examples[/bold]"]
        for example in examples:
            lines += [f"  [dim]# {escape(example.what)}[/dim]", f"  [cyan]ovtool {escape(example.argv)}[/cyan]"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def escape(text: str) -> str:
    """Escape what Rich would read as markup (`[bold]`, `[/x]`); `[1,128]` is left as it is."""
    return re.sub(r"\[(?=[a-zA-Z#/@])", r"\\[", text)


def _parameter(flag: Flag) -> inspect.Parameter:
    kind = inspect.Parameter.KEYWORD_ONLY
    if flag.argument:
        info = typer.Argument(
            ... if flag.required else None, help=escape(flag.help), metavar=flag.metavar, show_default=False
        )
        return inspect.Parameter(flag.name, kind, default=info, annotation=_annotation(flag))
    info = typer.Option(
        flag.default, *flag.decls, help=escape(flag.help), rich_help_panel=flag.panel, count=flag.count,
        metavar=flag.metavar, show_default=flag.count is False and flag.default not in (None, False),
    )  # fmt: skip
    return inspect.Parameter(flag.name, kind, default=info, annotation=_annotation(flag))


def _annotation(flag: Flag) -> Any:
    base: Any = Literal[flag.choices] if flag.choices else flag.type
    if flag.repeatable:
        base = list[base]
    if flag.default is not None or flag.required:
        return base
    return base | None
