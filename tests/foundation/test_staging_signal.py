"""A Ctrl-C that lands while the staging folder is being made: held off, then raised — and no folder left.

The signal is held off (interrupts.deferred) while the folder is created and marked, and raised as that
block ends, which is still inside RunFolder.__enter__, where a `with` statement never calls __exit__.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ovtool import artifacts
from ovtool.artifacts import RunFolder


def test_sigint_while_staging_is_made_leaves_no_staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_marker = artifacts.write_marker

    def marker_then_ctrl_c(folder: Path) -> None:
        real_marker(folder)
        os.kill(os.getpid(), signal.SIGINT)  # arrives inside the deferred block: pending until it ends

    monkeypatch.setattr(artifacts, "write_marker", marker_then_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    entered = False
    try:
        with pytest.raises(KeyboardInterrupt), RunFolder(tmp_path / "out", overwrite=False):
            entered = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not entered  # the signal stopped the run before its body
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no staging folder, no OUT
