"""Archive inputs: bounded expansion, strict member rules, owner-marked scratch (issue #11 §2, §3)."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from ovtool import scratch
from ovtool.data.archives import Limits, _Budget, copy_bounded, extract_archive
from ovtool.errors import UserError
from ovtool.recipe.sections.dataset import ARCHIVE_MAX_BYTES, ARCHIVE_MAX_MEMBERS, DatasetSection
from tests.conftest import ROOT, run_cli

ROOMY = Limits(max_bytes=10**9, max_members=10_000)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info in members:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_defaults_and_sizes_from_the_recipe() -> None:
    section = DatasetSection(verb="stats", path="x.zip")
    assert (section.archive_max_bytes, section.archive_max_members) == (4 * 1024**3, 100_000)
    assert (ARCHIVE_MAX_BYTES, ARCHIVE_MAX_MEMBERS) == (4 * 1024**3, 100_000)
    assert DatasetSection(verb="stats", path="x.zip", archive_max_bytes="8GiB").archive_max_bytes == 8 * 1024**3
    for bad in ({"archive_max_members": 0}, {"archive_max_bytes": 0}, {"archive_max_bytes": "lots"}):
        with pytest.raises(ValueError):
            DatasetSection(verb="stats", path="x.zip", **bad)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_regular_archive_extracts_byte_identical(kind: str, tmp_path: Path) -> None:
    files = {"ds/a.txt": b"alpha", "ds/sub/b.bin": os.urandom(3000), "top.txt": b""}
    if kind == "zip":
        archive = make_zip(tmp_path / "ok.zip", files)
    else:
        infos = [tar_member("ds", tarfile.DIRTYPE), *(tar_member(name) for name in files)]
        archive = make_tar(tmp_path / "ok.tgz", infos, files)
    dest = tmp_path / "dest"
    dest.mkdir()
    extract_archive(archive, dest, ROOMY)
    assert tree(dest) == files


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_size_limit_is_checked_from_the_index_before_writing(kind: str, tmp_path: Path) -> None:
    """A small archive declaring more than the limit: refused with nothing written (not even the first file)."""
    files = {"a.bin": b"\0" * 600_000, "b.bin": b"\0" * 600_000}
    if kind == "zip":
        archive = make_zip(tmp_path / "bomb.zip", files)
    else:
        archive = make_tar(tmp_path / "bomb.tgz", [tar_member(n) for n in files], files)
    assert archive.stat().st_size < 20_000  # it compresses ~100:1
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UserError, match="more than 1,000,000 bytes") as err:
        extract_archive(archive, dest, Limits(max_bytes=1_000_000, max_members=100, hint_bytes="raise X"))
    assert "raise X" in str(err.value) and "\n" not in str(err.value)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_member_limit_is_checked_before_writing(kind: str, tmp_path: Path) -> None:
    files = {f"f{i}.txt": b"x" for i in range(30)}
    if kind == "zip":
        archive = make_zip(tmp_path / "many.zip", files)
    else:
        archive = make_tar(tmp_path / "many.tar.gz", [tar_member(n) for n in files], files)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UserError, match="more than 10 members"):
        extract_archive(archive, dest, Limits(max_bytes=10**9, max_members=10))
    assert list(dest.iterdir()) == []


def test_bytes_actually_written_are_counted(tmp_path: Path) -> None:
    """Declared sizes can lie: the copy stops at the limit whatever the index said."""
    budget = _Budget(tmp_path / "liar.zip", Limits(max_bytes=3 * 2**20, max_members=10))
    budget.add(2**20)  # what the index declared so far
    target = tmp_path / "out.bin"
    with pytest.raises(UserError, match="expands to more than"):
        copy_bounded(io.BytesIO(b"\0" * (10 * 2**20)), target, budget)
    assert target.stat().st_size <= 3 * 2**20


@pytest.mark.parametrize(
    ("name", "members"),
    [
        ("tar-absolute", [tar_member("/etc/ovtool-evil")]),
        ("tar-dotdot-inside", [tar_member("ds/../ds2/a.txt")]),
        ("tar-symlink-inside", [tar_member("a.txt"), tar_member("link", tarfile.SYMTYPE, "a.txt")]),
        ("tar-symlink-out", [tar_member("link", tarfile.SYMTYPE, "/etc/passwd")]),
        ("tar-hardlink", [tar_member("a.txt"), tar_member("hard", tarfile.LNKTYPE, "a.txt")]),
        ("tar-chardev", [tar_member("dev", tarfile.CHRTYPE)]),
        ("tar-blockdev", [tar_member("dev", tarfile.BLKTYPE)]),
        ("tar-fifo", [tar_member("fifo", tarfile.FIFOTYPE)]),
    ],
)
def test_tar_members_other_than_plain_files_and_folders_refuse_the_archive(
    name: str, members: list[tarfile.TarInfo], tmp_path: Path
) -> None:
    archive = make_tar(tmp_path / f"{name}.tar.gz", members, {"a.txt": b"a", "/etc/ovtool-evil": b"x",
                                                              "ds/../ds2/a.txt": b"x"})  # fmt: skip
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UserError, match="refusing the archive") as err:
        extract_archive(archive, dest, ROOMY)
    assert repr(members[-1].name) in str(err.value)
    assert list(dest.iterdir()) == []  # checked before the first byte is written


def _zip_with_mode(path: Path, name: str, mode: int, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = mode << 16
        zf.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("name", "mode"),
    [("link", stat.S_IFLNK | 0o777), ("fifo", stat.S_IFIFO | 0o644), ("dev", stat.S_IFCHR | 0o644)],
)
def test_zip_symlink_and_special_members_refuse_the_archive(name: str, mode: int, tmp_path: Path) -> None:
    archive = _zip_with_mode(tmp_path / f"{name}.zip", name, mode, b"/etc/passwd")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UserError, match=f"'{name}' is a .*refusing the archive"):
        extract_archive(archive, dest, ROOMY)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("member", ["/etc/ovtool-evil", "C:/evil.txt", "a/../b.txt", "..\\evil.txt"])
def test_zip_paths_leaving_or_absolute_refuse_the_archive(member: str, tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "evil.zip", {"ok.txt": b"ok", member: b"x"})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UserError, match="outside the dataset folder"):
        extract_archive(archive, dest, ROOMY)
    assert list(dest.iterdir()) == []


def test_cli_refuses_a_zip_bomb_and_leaves_nothing(tmp_path: Path) -> None:
    """A small zip expanding past the limit: exit 2 naming the limit and how to raise it; no OUT, no scratch."""
    archive = make_zip(tmp_path / "bomb.zip", {f"d/{i}.bin": b"\0" * 2**20 for i in range(8)})
    assert archive.stat().st_size < 100_000
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    proc = run_cli("dataset", "stats", archive, "-o", out, "--set", "dataset.archive_max_bytes=4MiB",
                   env={"TMPDIR": str(tmp)})  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "archive_max_bytes" in proc.stderr and "more than 4,194,304 bytes" in proc.stderr
    assert not out.exists() and list(tmp.iterdir()) == []


def test_cli_refuses_a_tar_absolute_member(tmp_path: Path) -> None:
    """`/etc/x` is refused, not re-rooted into the dataset as tarfile's data filter would."""
    archive = make_tar(tmp_path / "abs.tar.gz", [tar_member("ds/a.jpg"), tar_member("/etc/ovtool-evil")],
                       {"ds/a.jpg": b"a", "/etc/ovtool-evil": b"x"})  # fmt: skip
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    proc = run_cli("dataset", "stats", archive, "-o", out, env={"TMPDIR": str(tmp)})
    assert proc.returncode == 2, proc.stderr
    assert "'/etc/ovtool-evil'" in proc.stderr and "refusing the archive" in proc.stderr
    assert not out.exists() and list(tmp.iterdir()) == []


CHILD = """
import sys, time
from pathlib import Path
from ovtool.recipe.sections.dataset import DatasetSection
from ovtool.stages.dataset import _plain_input

archive = Path(sys.argv[1])
with _plain_input(archive, DatasetSection(verb="stats", path=str(archive))) as root:
    print(root, flush=True)
    time.sleep(120)
"""


def test_extraction_folder_of_a_killed_run_is_found_and_swept(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "ds.zip", {"ds/a.txt": b"secret-ish", "ds/b.txt": b"b"})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(archive)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "TMPDIR": str(tmp)})  # fmt: skip
    try:
        root = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert (root / "a.txt").read_bytes() == b"secret-ish"
    folder = next(tmp.iterdir())
    assert folder.name.startswith("ovtool-archive-") and root.is_relative_to(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [leftover.path for leftover in scratch.find_dead([tmp])] == [folder]
    assert [leftover.pid for leftover in scratch.sweep_dead([tmp])] == [child.pid]
    assert not folder.exists()
