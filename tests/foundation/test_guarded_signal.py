"""A SIGTERM that lands while `guarded` reports another error still exits 143 with its one line.

Seen under a user's torchrun: a peer rank died, gloo raised on rank 0, and torchrun's SIGTERM
arrived while that error was being printed; the interrupt escaped `guarded` and the process ended
with no message. Deterministic here: the error's own `__str__` raises the signal's exception.
"""

from __future__ import annotations

import signal

import pytest
import typer

from ovtool import interrupts
from ovtool.cli.common import guarded


class _ErrorWhoseReportIsInterrupted(RuntimeError):
    def __str__(self) -> str:
        raise interrupts.Interrupted(signal.SIGTERM)


def test_a_signal_during_the_error_report_exits_143_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    @guarded
    def command() -> None:
        raise _ErrorWhoseReportIsInterrupted()

    restore = interrupts.install()
    try:
        with pytest.raises(typer.Exit) as exit_info:
            command()
    finally:
        restore()
    assert exit_info.value.exit_code == 143
    err = capsys.readouterr().err
    assert "terminated; nothing was published" in err
    assert "Traceback" not in err
