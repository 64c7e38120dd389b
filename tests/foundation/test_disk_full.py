"""A full disk, for real (a 20 MB tmpfs, else a loop-mounted ext4 image): one line saying where
and how much was needed, exit 1, nothing half-written left behind (issue #11 §6).

Exit 1, not 2: the model and options are valid; the same command succeeds once there is room.
"""

from __future__ import annotations

import contextlib
import errno
import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NUDENET_ONNX, run_cli

FS_MB = 20
NEEDED = re.compile(r"needed ~(\d+) MB")


def _mount(kind: str, image: Path, point: Path) -> str | None:
    """Mount a FS_MB filesystem at `point`; None when done, else why it could not be."""
    if kind == "tmpfs":
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={FS_MB}m", "tmpfs", str(point)]
    else:
        with image.open("wb") as f:
            f.truncate(FS_MB * 2**20)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            return f"mkfs.ext4: {made.stderr.strip() or made.returncode}"
        cmd = ["mount", "-o", "loop", str(image), str(point)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        return str(exc)
    return None if done.returncode == 0 else f"{' '.join(cmd[:3])}: {done.stderr.strip() or done.returncode}"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real FS_MB filesystem that can be filled up; unmounted afterwards."""
    point = tmp_path / "fs"
    point.mkdir()
    reasons = []
    for kind in ("tmpfs", "loop"):
        reason = _mount(kind, tmp_path / "fs.img", point)
        if reason is None:
            break
        reasons.append(reason)
    else:
        pytest.skip(f"cannot mount a small filesystem here (tmpfs and loop device both refused): {reasons}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)
        if Path(point).is_mount():
            subprocess.run(["umount", "-l", str(point)], check=False)


def fill(fs: Path, leave_mb: float) -> None:
    """Take all but `leave_mb` of the filesystem's free space."""
    free = shutil.disk_usage(fs).free
    with (fs / "ballast").open("wb") as f:
        f.write(b"\0" * int(free - leave_mb * 2**20))


def leftovers(fs: Path) -> list[str]:
    return sorted(p.name for p in fs.iterdir() if p.name not in ("ballast", "lost+found"))


def one_error(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line


@pytest.mark.slow
def test_convert_into_a_full_filesystem(small_fs: Path) -> None:
    fill(small_fs, leave_mb=5)
    out = small_fs / "out"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--weight-format", "fp32", "--no-cache")
    assert proc.returncode == 1, proc.stderr
    line = one_error(proc.stderr)
    assert "no space left on" in line and str(small_fs) in line, line
    assert "basic_ios" not in proc.stderr and "iostream" not in proc.stderr
    needed = int(NEEDED.search(line).group(1))
    assert leftovers(small_fs) == []  # no OUT, no staging folder, no partial .bin

    # with room, the same command works: the estimate was the size of what it writes
    (small_fs / "ballast").unlink()
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--weight-format", "fp32", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    written = (out / "model" / "openvino_model.bin").stat().st_size
    assert abs(needed - math.ceil(written / 2**20)) <= 1, (needed, written)


@pytest.mark.slow
def test_copy_of_an_ir_folder_into_a_full_filesystem(small_fs: Path, tmp_path: Path) -> None:
    source = tmp_path / "ir"
    assert run_cli("convert", "-m", NUDENET_ONNX, "-o", source).returncode == 0
    size_mb = math.ceil(sum(p.stat().st_size for p in (source / "model").iterdir()) / 2**20)
    fill(small_fs, leave_mb=size_mb / 2)
    proc = run_cli("convert", "-m", source / "model", "-o", small_fs / "out", "--no-cache")
    assert proc.returncode == 1, proc.stderr
    line = one_error(proc.stderr)
    assert "no space left on" in line and str(small_fs) in line, line
    assert int(NEEDED.search(line).group(1)) == size_mb
    assert leftovers(small_fs) == []


def test_any_enospc_maps_to_one_line(small_fs: Path) -> None:
    """An ENOSPC from a plain Python write (no size known) still names the filesystem; exit 1."""
    from ovtool.error_map import describe_failure

    fill(small_fs, leave_mb=0.5)
    with pytest.raises(OSError) as caught, (small_fs / "big").open("wb") as f:
        f.write(b"\0" * 2**20)
        f.flush()
    assert caught.value.errno == errno.ENOSPC
    wrapped = RuntimeError("a library wrapped it")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device", str(small_fs / "big"))
    for exc in (caught.value, wrapped):
        message, code = describe_failure(exc)
        assert code == 1 and message.startswith("no space left on"), message
    assert str(small_fs) in describe_failure(wrapped)[0]
    with contextlib.suppress(FileNotFoundError):
        (small_fs / "big").unlink()
