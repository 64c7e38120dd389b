"""The one place that talks to the terminal: results to stdout, everything else to stderr.

Rich (`err`, `out`) is imported on first styled output: plain progress lines are written directly, so a
run that only reports progress never imports it (~18 ms of every `ovtool generate`, issue #14).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    err: Console
    out: Console

_state = {"verbosity": 0}
_STRIPPED = dict.fromkeys((7, 8, 11, 12, 13))  # the control codes Rich strips from printed text


def __getattr__(name: str) -> Any:
    """`err` and `out`, the Rich consoles, made on first use."""
    if name not in ("err", "out"):
        raise AttributeError(name)
    from rich.console import Console

    made = Console(stderr=name == "err", highlight=False, soft_wrap=True)
    globals()[name] = made
    return made


def _err() -> Console:
    made: Console = globals().get("err") or __getattr__("err")
    return made


def _plain(message: str) -> None:
    """An unstyled line on stderr, as Rich prints it (its stripped control codes stripped, tabs expanded)."""
    sys.stderr.write(message.translate(_STRIPPED).expandtabs(8) + "\n")
    sys.stderr.flush()


def set_verbosity(verbose: int, quiet: bool) -> None:
    """-q silences progress, -v adds details; errors are always shown."""
    _state["verbosity"] = -1 if quiet else verbose


def info(message: str) -> None:
    """Progress for humans, on stderr; hidden by --quiet."""
    if _state["verbosity"] >= 0:
        _plain(message)


def detail(message: str) -> None:
    """Extra detail shown with -v."""
    if _state["verbosity"] >= 1:
        _err().print(message, style="dim", markup=False)


def warn(message: str) -> None:
    """A warning on stderr; kept even with --quiet unless it is noise."""
    if _state["verbosity"] >= 0:
        _err().print(f"warning: {message}", style="yellow", markup=False)


def error(message: str) -> None:
    _err().print(f"error: {message}", style="bold red", markup=False)


def result(text: str) -> None:
    """A result line on stdout (plain text so pipes get exactly what they expect)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def result_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Route everything written to fd 1 (Python and C++ libraries alike) to stderr.

    Libraries print progress and warnings to stdout; while a stage runs, stdout must stay
    clean for the results ovtool prints afterwards. With --quiet both fds go to /dev/null while
    the stage runs (NNCF progress bars, torch and transformers warnings): ovtool's own errors are
    printed after the stage, once the streams are back.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved_out, saved_err = os.dup(1), os.dup(2)
    except OSError:  # no real fds (embedded use): fall back to a Python-level redirect
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    quiet = _state["verbosity"] < 0
    sink = os.open(os.devnull, os.O_WRONLY) if quiet else 2
    try:
        os.dup2(sink, 1)
        if quiet:
            os.dup2(sink, 2)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err) + ((sink,) if quiet else ()):
            os.close(fd)
