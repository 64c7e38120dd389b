"""The `ovtool` entry point: every command registered; heavy libraries load only inside commands.

`app` is built on first use (module `__getattr__`), so `ovtool --help` can render the command list
from the light index (ovtool/cli/index.py) without importing the command modules.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    import typer


# command → (module in ovtool/cli, its function); group → module (its `app`)
COMMANDS = {
    "convert": ("convert", "convert"), "quantize": ("quantize", "quantize"), "prune": ("prune", "prune"),
    "distill": ("distill", "distill"), "benchmark": ("benchmark", "benchmark"), "generate": ("generate", "generate"),
    "run": ("run", "run"), "clean": ("clean", "clean"), "sweep": ("sweep", "sweep"), "tune": ("tune", "tune"),
    "env": ("env_cmd", "env"),
}  # fmt: skip
GROUP_MODULES = {"dataset": "dataset", "recipe": "recipe_cmd", "cache": "cache_cmd"}
# Commands whose process ends with ovtool/fast_exit.py (no teardown of the pipeline and interpreter).
FAST_EXIT = ("generate", "benchmark")


def _real(names: Iterable[str]) -> typer.Typer:
    """The root app with `names` as real commands/groups and the rest as placeholders."""
    from ovtool.cli.index import make_app

    names = list(names)
    commands = {n: getattr(importlib.import_module(f"ovtool.cli.{m}"), f) for n, (m, f) in COMMANDS.items()
                if n in names}  # fmt: skip
    groups = {n: importlib.import_module(f"ovtool.cli.{m}").app for n, m in GROUP_MODULES.items() if n in names}
    return make_app(commands, groups)


@functools.cache
def full_app() -> typer.Typer:
    """The root app with every real command and group."""
    return _real([*COMMANDS, *GROUP_MODULES])


def app_for(args: list[str]) -> typer.Typer:
    """Only the command `args` names is imported and built for real (~20 ms of command modules and
    Typer's signature processing saved per call); anything else gets the full app."""
    if args and (args[0] in COMMANDS or args[0] in GROUP_MODULES):
        return _real([args[0]])
    return full_app()


def __getattr__(name: str) -> Any:
    if name == "app":
        return full_app()
    raise AttributeError(name)


def cli(args: list[str] | None = None) -> click.Command:
    """The click group Typer builds, with the positional arguments' help restored.

    Only root help (`ovtool`, `ovtool --help`) is built from the placeholder index; shell
    completion (`_OVTOOL_COMPLETE` in the environment) needs the real commands too.
    """
    import typer

    from ovtool.cli.help_render import restore_argument_help

    root_help_only = args is not None and args in ([], ["--help"], ["-h"])
    if root_help_only and not any(key.endswith("_COMPLETE") for key in os.environ):
        from ovtool.cli.index import make_app

        return typer.main.get_command(make_app())
    if any(key.endswith("_COMPLETE") for key in os.environ) or args is None:
        return restore_argument_help(typer.main.get_command(full_app()))
    return restore_argument_help(typer.main.get_command(app_for(args)))


def no_telemetry() -> None:
    """ovtool sends no usage data: OpenVINO's telemetry is switched off for this process.

    The installed openvino_telemetry has no environment switch: it reads a consent file in
    ~/intel (the user's, left alone) and skips CI jobs detected by CI=true, which would also
    change transformers' logging and torch's config. Its two callers, ovc (used by optimum and
    openvino.convert_model) and NNCF, fall back to their own no-op stubs when it cannot be
    imported, so it is made unimportable here; forked children inherit that. An entry someone
    already put in sys.modules (a test, an embedding program) is kept.
    """
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]


def no_pydantic_plugins() -> None:
    """Recipe validation runs without pydantic plugins (observability hooks such as logfire's).

    Looking for them scans the entry points of every installed distribution (~12 ms of each call,
    issue #14); ovtool's own models have no use for them. A value the user set is kept.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a usage error (unknown option, bad choice, missing argument) is one line, exit 2."""
    import click

    no_telemetry()
    no_pydantic_plugins()
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None and args[:1] and args[0] in FAST_EXIT:  # the process is ours: end it without teardown
        from ovtool import fast_exit

        fast_exit.arm()
    if len(args) <= 1 or "--help" in args or "-h" in args:
        from ovtool.cli.help_render import prepare

        prepare()
    try:
        code = cli(args).main(args=args, standalone_mode=False)
    except click.UsageError as exc:
        code = usage_error(exc)
    except click.ClickException as exc:
        from ovtool import console

        console.error(exc.format_message())
        code = exc.exit_code
    except click.Abort:
        code = 130
    from ovtool import fast_exit, interrupts

    if argv is None:  # the process is ours: a signal from here on must not print a traceback at shutdown
        interrupts.settle()

    fast_exit.end(code if isinstance(code, int) else 0)


def usage_error(exc: click.UsageError) -> int:
    """`error: <what> (see 'ovtool CMD --help')` on one line; Typer's error panel takes six."""
    from ovtool import console

    if exc.ctx is not None and type(exc).__name__ == "NoArgsIsHelpError":  # `ovtool dataset`: help, exit 2
        text = exc.ctx.get_help()  # Rich help prints itself and returns ""
        if text:
            sys.stderr.write(text + "\n")
        return exc.exit_code
    where = exc.ctx.command_path if exc.ctx is not None else "ovtool"
    message = " ".join(exc.format_message().split())
    console.error(f"{message} (see '{where} --help')")
    return exc.exit_code
