"""Keep Rich help within the `ovtool --help` budget: typer.rich_utils without its unused imports.

typer.rich_utils imports rich.markdown (markdown-it, for rich_markup_mode="markdown") and
rich.traceback (pygments, for pretty exceptions) at its top: ~45 ms of a ~130 ms budget, for
two features ovtool switches off (markup mode "rich", pretty_exceptions_enable=False). While
rich_utils is first imported, those two names come from stand-ins that load the real class on
first use, so nothing changes if they are ever used; the stand-ins leave sys.modules at once,
so any later `import rich.markdown` gets the real module. The help text itself is Typer's.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_STANDINS = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _OnFirstUse(type):
    """Metaclass of a stand-in class: reading a class attribute loads the real class."""

    def __getattr__(cls, attr: str) -> Any:
        return getattr(cls.real(), attr)


def _standin(module: str, name: str) -> type:
    """A class usable in annotations (`Markdown | Text`) whose instances are the real class's."""

    def real() -> Any:
        return getattr(importlib.import_module(module), name)

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return real()(*args, **kwargs)

    return _OnFirstUse(name, (), {"real": staticmethod(real), "__new__": new, "__module__": module})


def prepare() -> None:
    """Import typer.rich_utils with the stand-ins (once; a no-op if it is already imported)."""
    if "typer.rich_utils" in sys.modules:
        return
    placed = []
    for module, name in _STANDINS.items():
        if module not in sys.modules:
            standin = types.ModuleType(module)
            setattr(standin, name, _standin(module, name))
            sys.modules[module] = standin
            placed.append(module)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module in placed:
            del sys.modules[module]


def restore_argument_help(command: Any) -> Any:
    """Put back the positional arguments' help that click 8.5 drops under Typer 0.25.

    click 8.5.0 gave `click.Argument` its own `help` and sets it to None after TyperArgument has
    set it, so the Arguments panel lost every description (fastapi/typer with pallets/click#3473).
    The text is still in each command's flag table (`func.flags`, copied onto Typer's callback);
    an argument that already has help (a fixed Typer) is left alone.
    """
    import click

    for sub in getattr(command, "commands", {}).values():
        restore_argument_help(sub)
    flags = {flag.name: flag for flag in getattr(command.callback, "flags", ())}
    for param in command.params:
        if isinstance(param, click.Argument) and not getattr(param, "help", None) and param.name in flags:
            from ovtool.cli.build import escape

            param.help = escape(flags[param.name].help)
    return command
