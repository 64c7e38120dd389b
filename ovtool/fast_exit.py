"""Ending the `ovtool` process without tearing down what it built (issue #14: no overhead over the plain library).

Once `generate` or `benchmark` is done — results printed, OUT published, files closed — freeing the LLM
pipeline (~0.1-0.2 s) and the interpreter's own teardown (~0.15-0.2 s with OpenVINO loaded; paired
whole-process runs on a shared 2-core AMD EPYC) change nothing the user sees but the wait. So the CLI
process arms this, stages hand the last pipeline to `keep`, and `end` flushes stdout/stderr, runs the
atexit handlers (logging, temporary folders, multiprocessing) and ends with `os._exit`.

Only the CLI entry point arms it (never `main(argv)` in a test or an embedding program), and `end` falls
back to a normal exit while another Python thread is alive (its work would be cut short).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

_state = {"armed": False}
_kept: list[object] = []


def arm() -> None:
    """This process will end through `end`: what `keep` is given may stay until then.

    Not under a profiler or tracer (cProfile, coverage, a debugger): they write their results after the
    program returns, which `os._exit` would skip.
    """
    _state["armed"] = sys.gettrace() is None and sys.getprofile() is None


def armed() -> bool:
    return _state["armed"]


def keep(thing: object) -> None:
    """Hold `thing` until the process ends, so its teardown is skipped; unarmed, nothing is held (the
    caller's reference going away frees it as before)."""
    if _state["armed"]:
        _kept.append(thing)


def end(code: int) -> NoReturn:
    """`sys.exit(code)`, without the teardown when armed and no other Python thread runs."""
    if not _state["armed"] or threading.active_count() > 1:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    os._exit(code)


def _flush(stream: object) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # a closed pipe or stream: nothing to write
        stream.flush()  # type: ignore[attr-defined]
