"""The one wrapper that maps errors to exit codes, and the shared body of every stage command.

The options themselves are declared once, in ovtool/cli/flags.py.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])


def guarded(func: F) -> F:
    """Run a command body; an OvtoolError becomes its one-line message and exit code.

    Tracebacks only with OVTOOL_DEBUG=1. SIGINT exits 130 and SIGTERM 143 (128 + the signal), both
    unwinding like Ctrl-C so RunFolder and scratch folders clean up; see `_interrupt_exit` for what
    is said when OUT had already been published.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ovtool import interrupts
        from ovtool.artifacts import published_outs

        debug = os.environ.get("OVTOOL_DEBUG") == "1"
        published_before = len(published_outs())
        interrupts.install()
        try:
            return _report_failures(func, args, kwargs, published_before, debug)
        except KeyboardInterrupt as exc:  # also one that lands while a failure is being reported
            raise _interrupt_exit(interrupts.signum_of(exc), published_outs()[published_before:]) from exc

    return wrapper  # type: ignore[return-value]


def _report_failures(func: Callable[..., Any], args: Any, kwargs: Any, published_before: int, debug: bool) -> Any:
    """Call the command; an error becomes its one-line message and exit code (see `guarded`)."""
    from ovtool import console, interrupts
    from ovtool.artifacts import published_outs
    from ovtool.errors import OvtoolError

    try:
        return func(*args, **kwargs)
    except typer.Exit:
        raise
    except Exception as exc:
        if (signum := interrupts.seen()) is not None:  # a library turned the signal into its own error
            raise _interrupt_exit(signum, published_outs()[published_before:]) from exc
        if debug:
            console.err.print_exception()
        from ovtool.error_map import clip_message, describe_failure

        if isinstance(exc, OvtoolError):
            console.error(clip_message(str(exc)))
            raise typer.Exit(exc.exit_code) from exc
        known = describe_failure(exc)  # ENOSPC, ENAMETOOLONG, OpenVINO errors… (one table)
        if known is not None:
            console.error(clip_message(known[0]))
            raise typer.Exit(known[1]) from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        console.error(clip_message(f"{type(exc).__name__}: {first} (run with OVTOOL_DEBUG=1 for the traceback)"))
        raise typer.Exit(1) from exc


def _interrupt_exit(signum: int, published: list[Path]) -> typer.Exit:
    """Say what an interrupt left behind; exit 128 + signal either way (130 SIGINT, 143 SIGTERM).

    A signal that arrives once OUT is published (publish holds signals off across its renames, so
    that is where a signal during publish lands) still exits 130/143: the run did not finish —
    gates were not checked, results not printed — but OUT is complete, and the message says so.
    """
    from ovtool import console
    from ovtool.interrupts import verb

    if published:
        console.error(f"{verb(signum)} after publishing {', '.join(map(str, published))}")
    else:
        console.error(f"{verb(signum)}; nothing was published")
    return typer.Exit(128 + signum)


def run_stage_command(
    command: str,
    *,
    recipe: Path | None,
    sets: list[str] | None,
    overwrite: bool,
    dry_run: bool,
    json_out: bool,
    verbose: int,
    quiet: bool,
    flags: dict[str, Any] | None = None,
    stages: list[str] | None = None,
    wait: bool = False,
    from_stage: str | None = None,
) -> None:
    """The shared body of every stage command (and `run`)."""
    from ovtool import console
    from ovtool.recipe.loader import load_recipe
    from ovtool.runner import RunOptions, check_gates, execute

    console.set_verbosity(verbose, quiet)
    all_flags = dict(flags or {})  # dotted recipe key → value (None: not given), from the flag tables
    loaded = load_recipe(recipe, sets or [], all_flags)
    if stages is None:
        stages = [command]
        if getattr(loaded.recipe, command) is None:  # `ovtool convert -m X` needs no section
            loaded = load_recipe(recipe, sets or [], {**all_flags, command: {}})
    options = RunOptions(command=command, stages=stages, overwrite=overwrite, dry_run=dry_run, wait=wait,
                         from_stage=from_stage)  # fmt: skip
    record = execute(loaded, options)
    if record is None:  # dry run
        console.info("dry run: recipe, inputs and options are valid; nothing was done")
        console.result(loaded.resolved_yaml())
        return
    if json_out:
        console.result_json(record.as_dict())
    else:
        for stage in record.stages:
            if stage.result.stdout_text is not None:
                console.result(stage.result.stdout_text)
            elif stage.result.summary:
                console.result(stage.result.summary)
        if loaded.recipe.output:  # stderr: stdout may be the generated text, redirected to a file
            console.info(f"output: {loaded.recipe.output}")
    check_gates(record)
