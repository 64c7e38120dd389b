"""The hash index: unchanged files (size, mtime, inode) are not read again, changed ones are; the stale
case is the documented one; folder hashes equal artifacts.sha256_path; concurrent processes; a damaged db."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time
from pathlib import Path

import pytest

from ovtool.artifacts import sha256_path
from ovtool.cache import hash_index
from ovtool.cache.hash_index import HashIndex
from tests.conftest import MINILM_DIR, NUDENET_ONNX

PAST = time.time() - 3600  # older than the racy window: such a file's hash is recorded


def settled(path: Path, stamp: float = PAST) -> Path:
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A real model folder: the MiniLM checkpoint's files (weights, tokenizer, config, pooling)."""
    folder = tmp_path / "minilm"
    shutil.copytree(MINILM_DIR, folder)
    for file in folder.rglob("*"):
        settled(file)
    return folder


def test_folder_hash_is_read_once_and_equals_the_run_json_hash(model_folder: Path, tmp_path: Path) -> None:
    count = sum(1 for p in model_folder.rglob("*") if p.is_file())
    first = HashIndex(tmp_path / "cache")
    digest = first.path_hash(model_folder)
    assert digest == sha256_path(model_folder)
    assert first.reads == count
    second = HashIndex(tmp_path / "cache")  # another run: a new instance, the same index file
    assert second.path_hash(model_folder) == digest
    assert second.reads == 0
    assert second.file_hash(model_folder / "config.json") == sha256_path(model_folder / "config.json")
    assert second.reads == 0


def test_an_in_place_rewrite_with_mtime_put_back_is_stale_by_design(tmp_path: Path) -> None:
    file = tmp_path / "weights.bin"
    file.write_bytes(b"A" * 4096)
    settled(file)
    index = HashIndex(tmp_path / "cache")
    old = index.file_hash(file)
    inode = file.stat().st_ino
    with open(file, "r+b") as fh:  # same size, same inode ...
        fh.write(b"B" * 4096)
    settled(file)  # ... and the old mtime put back
    assert file.stat().st_ino == inode
    again = HashIndex(tmp_path / "cache")
    assert again.file_hash(file) == old  # not read: the documented stale case
    assert again.reads == 0

    settled(file, PAST + 1)  # any mtime change (a normal write makes one) → read again
    fresh = HashIndex(tmp_path / "cache")
    assert fresh.file_hash(file) == sha256_path(file) != old
    assert fresh.reads == 1


def test_size_or_inode_change_is_read_again(tmp_path: Path) -> None:
    file = tmp_path / "m.bin"
    file.write_bytes(b"x" * 100)
    settled(file)
    HashIndex(tmp_path / "cache").file_hash(file)
    replacement = tmp_path / "new.bin"
    replacement.write_bytes(b"y" * 100)
    settled(replacement)
    os.replace(replacement, file)  # same path, size and mtime; another inode (how tools save a file)
    index = HashIndex(tmp_path / "cache")
    assert index.file_hash(file) == sha256_path(file) and index.reads == 1
    with open(file, "ab") as fh:
        fh.write(b"z")
    settled(file)  # size differs
    index = HashIndex(tmp_path / "cache")
    assert index.file_hash(file) == sha256_path(file) and index.reads == 1


def test_a_file_written_just_now_is_not_recorded(tmp_path: Path) -> None:
    """A write landing in the same mtime tick right after hashing could go unseen: such files are re-read."""
    file = tmp_path / "fresh.bin"
    file.write_bytes(b"fresh")
    for _ in range(2):
        index = HashIndex(tmp_path / "cache")
        assert index.file_hash(file) == sha256_path(file)
        assert index.reads == 1


def _hash_in_child(root: str, folder: str, out: mp.Queue) -> None:
    index = HashIndex(Path(root))
    out.put([index.path_hash(Path(folder)) for _ in range(5)])


def test_concurrent_processes_share_the_index(tmp_path: Path, model_folder: Path) -> None:
    settled(Path(shutil.copy2(NUDENET_ONNX, model_folder / NUDENET_ONNX.name)))  # 12 MB more to read
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_hash_in_child, args=(str(tmp_path / "cache"), str(model_folder), out))
             for _ in range(3)]  # fmt: skip
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    expected = sha256_path(model_folder)
    assert all(h == expected for r in results for h in r)
    index = HashIndex(tmp_path / "cache")
    assert index.path_hash(model_folder) == expected and index.reads == 0


def test_a_damaged_index_is_replaced_and_a_missing_path_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    root.mkdir()
    (root / hash_index.DB_NAME).write_bytes(b"this is not sqlite" * 100)
    file = tmp_path / "a.txt"
    file.write_text("a")
    settled(file)
    index = HashIndex(root)
    assert index.file_hash(file) == sha256_path(file)
    again = HashIndex(root)
    again.file_hash(file)
    assert again.reads == 0  # the index was rebuilt and works
    with pytest.raises(FileNotFoundError):
        index.path_hash(tmp_path / "missing")
    file.unlink()
    assert index.forget_missing() == 1
