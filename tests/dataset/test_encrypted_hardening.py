"""Encrypted datasets: plaintext scratch a killed run leaves is sweepable, `-f` errors exit 2, and a failed
encrypt leaves no key file (issue #11 §3, §5)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ovtool import scratch
from ovtool.data.crypto import KeySource, encrypt_folder, load_or_create_key, load_or_new_key
from ovtool.data.encrypted import RAM_ROOT, _is_tmpfs
from tests.conftest import ROOT, run_cli

CHILD = """
import sys, time
from pathlib import Path
from ovtool.data.crypto import KeySource
from ovtool.data.encrypted import EncryptedDataset

with EncryptedDataset(Path(sys.argv[1]), KeySource(file=Path(sys.argv[2]))).in_ram_folder() as folder:
    print(folder, flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(not _is_tmpfs(RAM_ROOT), reason="needs /dev/shm as tmpfs (where the plaintext folder lives)")
def test_plaintext_folder_of_a_killed_run_is_found_and_swept(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "Annotations").mkdir(parents=True)
    (plain / "Annotations" / "a.xml").write_bytes(b"<annotation>secret</annotation>")
    source = KeySource(file=tmp_path / "k.key")
    key, _ = load_or_create_key(source)
    encrypt_folder(plain, tmp_path / "enc", key, dataset_format="voc")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "enc"), str(source.file)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        folder = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    scratch_dir = folder.parent
    try:
        assert (folder / "Annotations" / "a.xml").read_bytes() == b"<annotation>secret</annotation>"
        assert [p.name for p in folder.iterdir()] == ["Annotations"]  # the owner mark is not in the data
        assert scratch_dir.parent == RAM_ROOT and scratch_dir.name.startswith("ovtool-plain-")
        assert stat.S_IMODE(scratch_dir.stat().st_mode) == 0o700
        # only ours: other runs' folders in /dev/shm are not this test's business
        mine = (scratch_dir.name,)
        assert [(x.path, x.pid) for x in scratch.find_dead([RAM_ROOT], mine)] == [(scratch_dir, child.pid)]
        assert [x.path for x in scratch.sweep_dead([RAM_ROOT], mine)] == [scratch_dir]
        assert not scratch_dir.exists()
    finally:
        import shutil

        shutil.rmtree(scratch_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def encrypted_voc(voc_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("enc")
    key_file = root / "k.key"
    proc = run_cli("dataset", "encrypt", voc_dir, "--key-file", key_file, "-o", root / "out")
    assert proc.returncode == 0, proc.stderr
    return root / "out" / "dataset", key_file


@pytest.mark.parametrize(("fmt", "says"), [("coco", "Failed to find dataset 'coco' at '{enc}'"),
                                          ("nosuch", "unknown dataset format 'nosuch'")])  # fmt: skip
def test_encrypted_stats_with_a_wrong_format_exits_2(encrypted_voc: tuple[Path, Path], fmt: str, says: str,
                                                     tmp_path: Path) -> None:  # fmt: skip
    enc, key_file = encrypted_voc
    out = tmp_path / "out"
    proc = run_cli("dataset", "stats", enc, "--key-file", key_file, "-f", fmt, "-o", out)
    assert proc.returncode == 2, proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and says.format(enc=enc) in error[0], proc.stderr
    assert "/dev/shm" not in proc.stderr and "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize("verb", ["convert", "validate", "filter", "split"])
def test_encrypted_other_verbs_with_a_wrong_format_exit_2(encrypted_voc: tuple[Path, Path], verb: str,
                                                          tmp_path: Path) -> None:  # fmt: skip
    enc, key_file = encrypted_voc
    extra = {"convert": ["--to", "yolo"], "validate": [], "filter": ["-e", "/item"],
             "split": ["--ratio", "a=0.5", "--ratio", "b=0.5"]}[verb]  # fmt: skip
    out = tmp_path / "out"
    proc = run_cli("dataset", verb, enc, "--key-file", key_file, "-f", "coco", *extra, "-o", out)
    assert proc.returncode == 2, proc.stderr
    assert "Failed to find dataset 'coco'" in proc.stderr and "/dev/shm" not in proc.stderr
    assert not out.exists()


def test_new_key_is_not_written_until_saved(tmp_path: Path) -> None:
    source = KeySource(file=tmp_path / "k.key")
    key, new = load_or_new_key(source)
    assert new and len(key) == 44 and not source.file.exists()  # type: ignore[union-attr]


@pytest.mark.parametrize("case", ["empty-folder", "corrupt-archive"])
def test_failed_encrypt_creates_no_key_file(case: str, tmp_path: Path) -> None:
    if case == "empty-folder":
        src = tmp_path / "empty"
        src.mkdir()
    else:
        src = tmp_path / "broken.zip"
        src.write_bytes(b"PK\x03\x04 this is not a zip")
    key_file = tmp_path / "keys" / "new.key"
    proc = run_cli("dataset", "encrypt", src, "--key-file", key_file, "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert not key_file.exists() and not (tmp_path / "out").exists()


def test_failed_encrypt_keeps_an_existing_key_file(tmp_path: Path) -> None:
    source = KeySource(file=tmp_path / "old.key")
    load_or_create_key(source)
    before = source.file.read_bytes()  # type: ignore[union-attr]
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("dataset", "encrypt", empty, "--key-file", source.file, "-o", tmp_path / "out")  # type: ignore[arg-type]
    assert proc.returncode == 2, proc.stderr
    assert source.file.read_bytes() == before  # type: ignore[union-attr]


def test_key_file_that_cannot_be_created_is_refused_before_the_work(tmp_path: Path) -> None:
    src = tmp_path / "ds"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    proc = run_cli("dataset", "encrypt", src, "--key-file", blocker / "k.key", "-o", tmp_path / "out", "--dry-run")
    assert proc.returncode == 2 and "cannot be created" in proc.stderr, proc.stderr
