"""Options every stage command shares, and the one wrapper that maps errors to exit codes."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

RecipeArg = Annotated[
    Path | None, typer.Argument(help="Recipe YAML (optional where flags say enough).", show_default=False)
]
ModelOpt = Annotated[str | None, typer.Option("-m", "--model", help="Source model (overrides `model:`).")]
OutputOpt = Annotated[Path | None, typer.Option("-o", "--output", help="OUT folder (overrides `output:`).")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe key: --set convert.weight_format=fp16 (repeatable)."),
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace a non-empty OUT that an earlier ovtool run published.")
]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="If another ovtool run is writing OUT, wait for it instead of exiting 2.")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Validate everything, print the resolved recipe.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the run record (run.json) to stdout.")]
VerboseOpt = Annotated[int, typer.Option("-v", "--verbose", count=True, help="More detail on stderr.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Only errors on stderr.")]

F = TypeVar("F", bound=Callable[..., Any])


def guarded(func: F) -> F:
    """Run a command body; an OvtoolError becomes its one-line message and exit code.

    Tracebacks only with OVTOOL_DEBUG=1; Ctrl-C exits 130 (staging is cleaned by RunFolder).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ovtool import console
        from ovtool.errors import OvtoolError

        debug = os.environ.get("OVTOOL_DEBUG") == "1"
        interrupted = _watch_sigint()
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt as exc:
            console.error("interrupted; nothing was published")
            raise typer.Exit(130) from exc
        except Exception as exc:
            if interrupted():  # a library turned Ctrl-C into its own error (e.g. a wrapped lazy import)
                console.error("interrupted; nothing was published")
                raise typer.Exit(130) from exc
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

    return wrapper  # type: ignore[return-value]


def _watch_sigint() -> Callable[[], bool]:
    """Remember that SIGINT arrived (then raise KeyboardInterrupt as Python does by default)."""
    import signal

    seen: list[bool] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(True)
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (embedded use): keep Python's default
        signal.signal(signal.SIGINT, handler)
    return lambda: bool(seen)


def run_stage_command(
    command: str,
    *,
    recipe: Path | None,
    model: str | None,
    output: Path | None,
    sets: list[str] | None,
    overwrite: bool,
    dry_run: bool,
    json_out: bool,
    verbose: int,
    quiet: bool,
    flags: dict[str, Any] | None = None,
    stages: list[str] | None = None,
    wait: bool = False,
) -> None:
    """The shared body of every stage command (and `run`)."""
    from ovtool import console
    from ovtool.recipe.loader import load_recipe
    from ovtool.runner import RunOptions, check_gates, execute

    console.set_verbosity(verbose, quiet)
    all_flags = {"model": model, "output": str(output) if output else None, **(flags or {})}
    loaded = load_recipe(recipe, sets or [], all_flags)
    if stages is None:
        stages = [command]
        if getattr(loaded.recipe, command) is None:  # `ovtool convert -m X` needs no section
            loaded = load_recipe(recipe, sets or [], {**all_flags, command: {}})
    options = RunOptions(command=command, stages=stages, overwrite=overwrite, dry_run=dry_run, wait=wait)
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
