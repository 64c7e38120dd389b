"""A signal that lands after the command returned, while the interpreter shuts down, ends it quietly.

Seen in CI under `--launcher torchrun`: one rank was SIGKILLed, rank 0 returned its peer-lost
error, and torchrun's SIGTERM reached rank 0 while Python joined threads in `threading._shutdown`;
`Interrupted` raised there printed "Exception ignored … Traceback" under ovtool's one-line error.
Deterministic here: a non-daemon thread keeps the interpreter in `_shutdown` and signals the process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LATE_SIGNAL = """
import os, signal, threading, time
def late():
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
threading.Thread(target=late).start()
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("settled", [False, True])
def test_a_sigterm_during_shutdown_after_settle_exits_143_without_traceback(settled: bool) -> None:
    code = "from ovtool import interrupts\ninterrupts.install()\n" + ("interrupts.settle()\n" if settled else "")
    proc = _run(code + LATE_SIGNAL)
    if settled:
        assert proc.returncode == 143, proc.stderr
        assert proc.stderr == ""
    else:  # the failure settle() exists for: the handler raises inside the interpreter's shutdown
        assert "Traceback" in proc.stderr and "Interrupted: SIGTERM" in proc.stderr


def test_the_cli_entry_point_settles_before_the_process_ends(tmp_path: Path) -> None:
    """A guarded command (its signal handlers installed) fails on bad input, then the late SIGTERM lands."""
    argv = ["ovtool", "convert", "-m", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "out")]
    code = f"import sys\nsys.argv = {argv!r}\n" + LATE_SIGNAL + "from ovtool.cli.main import main\nmain()\n"
    proc = _run(code)
    assert proc.returncode == 143, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith("error:"), "the command's own one-line error came first"
