"""SIGINT and SIGTERM unwind a run the same way, and publish can hold them off across its renames.

Python turns only SIGINT into KeyboardInterrupt; SIGTERM (what `timeout`, CI runners and
`docker stop` send) would end the process with no cleanup. `install()` makes both raise
`Interrupted`, a KeyboardInterrupt subclass, so libraries unwind through their `finally` blocks
exactly as they do for Ctrl-C. `deferred()` holds both signals off while OUT is swapped, so a
signal never lands between the two renames; it is raised as soon as the block ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `exit_code` is 128 + the signal number (130, 143)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def verb(self) -> str:
        return verb(self.signum)


def verb(signum: int) -> str:
    """How the message names the signal: Ctrl-C interrupts, SIGTERM terminates."""
    return "terminated" if signum == signal.SIGTERM else "interrupted"


def signum_of(exc: BaseException) -> int:
    """The signal behind a KeyboardInterrupt (a library's own KeyboardInterrupt counts as SIGINT)."""
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)


@dataclass
class _State:
    owner_pid: int = 0
    seen: int | None = None  # the last signal that arrived since install()
    pending: int | None = None  # a signal that arrived inside deferred()
    deferring: int = 0


_state = _State()


def _handler(signum: int, frame: object) -> None:
    if os.getpid() != _state.owner_pid:
        # a forked child (multiprocessing, a library's helper) got the terminal's Ctrl-C too:
        # end it quietly — its traceback would only bury ovtool's one-line message
        os._exit(128 + signum)
    _state.seen = signum
    if _state.deferring:
        _state.pending = signum
        return
    raise Interrupted(signum)


def install() -> Callable[[], None]:
    """Route SIGINT and SIGTERM to `Interrupted`; returns a function that puts the old handlers back.

    Outside the main thread (embedded use) nothing is installed and Python's defaults stay; a
    signal ignored when ovtool started (a background job of a script ignores SIGINT) stays ignored.
    """
    _state.owner_pid, _state.seen, _state.pending = os.getpid(), None, None
    previous: dict[int, object] = {}
    for signum in SIGNALS:
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue
        with contextlib.suppress(ValueError):  # not the main thread
            previous[signum] = signal.signal(signum, _handler)

    def restore() -> None:
        for signum, old in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, old)  # type: ignore[arg-type]

    return restore


def settle() -> None:
    """The run is over: from now on SIGINT/SIGTERM end this process at once, quietly, with 128 + the signal.

    Raising `Interrupted` is only useful while there is a run to unwind. Once the command has returned,
    the interpreter's own shutdown (joining threads in `threading._shutdown`) may still take a moment,
    and a signal landing there — torchrun stopping the surviving ranks after one died — made Python print
    "Exception ignored in <module 'threading'>" with a traceback under the one-line error.
    """
    if os.getpid() != _state.owner_pid:
        return
    for signum in SIGNALS:
        with contextlib.suppress(ValueError, TypeError):  # not the main thread
            if signal.getsignal(signum) is _handler:
                signal.signal(signum, _exit_quietly)


def _exit_quietly(signum: int, frame: object) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(128 + signum)


def seen() -> int | None:
    """The signal that arrived since install(), if any (a library may have turned it into its own error)."""
    return _state.seen


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM off for the block; one that arrived meanwhile is raised when it ends.

    pthread_sigmask keeps the signal pending in the kernel for this thread; a signal another
    thread took runs our handler, which only records it while deferring.
    """
    masked = hasattr(signal, "pthread_sigmask")
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS) if masked else set()
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
        if masked:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending signal is handled here
        if not _state.deferring and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            raise Interrupted(signum)
