"""First run: NNCF's CPU kernels are compiled by ovtool (told on stderr, timed, first run only) and NNCF's
60 s extension load limit is raised unless the user chose one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ovtool.training import nncf_kernels


def test_generous_load_timeout_unless_the_user_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from nncf.torch.extensions import _get_extension_load_timeout

    monkeypatch.delenv(nncf_kernels.TIMEOUT_ENV, raising=False)
    assert _get_extension_load_timeout() == 60  # NNCF's own default: too short for a busy machine
    nncf_kernels.set_load_timeout()
    assert _get_extension_load_timeout() == nncf_kernels.DEFAULT_TIMEOUT_S >= 300
    monkeypatch.setenv(nncf_kernels.TIMEOUT_ENV, "7")
    nncf_kernels.set_load_timeout()
    assert _get_extension_load_timeout() == 7


def test_compile_is_told_and_timed_on_the_first_run_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    compiles: list[float] = []

    class FakeLoader:
        """Stands in for NNCF's QuantizedFunctionsCPULoader (a real cold compile takes minutes)."""

        @classmethod
        def name(cls) -> str:
            return "quantized_functions_cpu"

        @classmethod
        def get_build_dir(cls) -> str:
            return str(tmp_path)

        @classmethod
        def load(cls) -> None:
            time.sleep(0.2)
            (tmp_path / "quantized_functions_cpu.so").write_bytes(b"\0")
            compiles.append(time.monotonic())

    monkeypatch.setattr(nncf_kernels, "_cpu_loaders", lambda: [FakeLoader])
    seconds = nncf_kernels.ensure_cpu_kernels()
    err = capsys.readouterr().err
    assert seconds is not None and seconds >= 0.2 and len(compiles) == 1
    assert "compiling NNCF's CPU kernels" in err and "compiled in" in err and str(tmp_path) in err
    assert nncf_kernels.ensure_cpu_kernels() is None  # built: no compile, nothing said
    assert len(compiles) == 1 and capsys.readouterr().err == ""

