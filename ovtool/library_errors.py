"""How OpenVINO (and the libraries it loads) report failures, turned into what a user can act on.

OpenVINO's exceptions start with C++ source locations ("Exception from src/inference/src/cpp/
core.cpp:84:"); the sentence that says what is wrong comes after them. Its frontends (and torch)
also log to the process's stderr from native code — absl/glog lines with raw bytes of the file
being probed — which no environment variable turns off, so those calls run with fd 2 captured.

It imports no library (text and file descriptors only), so it sits in the bottom layer: the error map
(used by the CLI) and the backends both use it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# "Exception from src/x.cpp:84:" and "Check 'cond' failed at src/y.cpp:887:" only say where
_LOCATION = re.compile(r"^(Exception from \S+:\d+:?|Check .* failed at \S+:\d+:?)$")
MESSAGE_LINES = 3  # lines of an OpenVINO message kept (after the source locations)
REPLAY_LIMIT = 20_000  # characters of captured library logs shown with -v


def openvino_message(exc: BaseException) -> str:
    """The meaningful line of an OpenVINO exception (the first ones name only C++ source files)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line.rstrip(":") for line in lines if not _LOCATION.match(line)]
    # "Converting input model" / "node <port> is missing …": a heading, then the detail
    return ": ".join(useful[:MESSAGE_LINES]) if useful else (lines or [type(exc).__name__])[0]


@contextlib.contextmanager
def library_logs_captured() -> Iterator[None]:
    """Keep what native libraries write to stderr (fd 2) off the terminal; replay it with -v.

    absl/glog print before any flag can be set (and read no environment variable), so the only
    reliable way is to point fd 2 at an unlinked temporary file while the library call runs.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (embedded use): nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            _replay(sink)


@contextlib.contextmanager
def root_logs_as_detail() -> Iterator[None]:
    """Lines libraries log through the root logger are shown with -v only, not as `WARNING:root:…`.

    Datumaro logs with `logging.warning(...)`, which configures the root logger on first use
    (basicConfig: a stderr handler), so every COCO read printed lines such as "Multiple COCO tasks are
    detected" between ovtool's own. While the block runs the root logger's handlers are replaced by
    one that hands each line to `console.detail`.
    """
    import logging

    from ovtool import console

    class _Detail(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            console.detail(f"library log: {record.levelname.lower()}: {record.getMessage()}")

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [_Detail(logging.INFO)]
    try:
        yield
    finally:
        root.handlers = saved


def _replay(sink: object) -> None:
    from ovtool import console

    sink.seek(0)  # type: ignore[attr-defined]
    text = sink.read(REPLAY_LIMIT * 4).decode("utf-8", errors="replace")  # type: ignore[attr-defined]
    text = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text).strip()
    if text:
        console.detail(f"library log:\n{text[:REPLAY_LIMIT]}")
