"""The stage cache store on real folders: round trip, corruption caught on read, concurrent stores of one
key (real processes), the per-key lock, a killed store swept, prune by age and size, clear, and keys."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ovtool import scratch
from ovtool.cache import store as store_mod
from ovtool.cache.keys import library_versions, stage_key
from ovtool.cache.store import StageCache, cache_root
from ovtool.results import Metric, StageResult
from tests.conftest import MINILM_DIR, NUDENET_ONNX

KEY = "ab" + "0" * 62


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A real model folder (NudeNet ONNX + the MiniLM config/tokenizer files), with a nested folder."""
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy2(NUDENET_ONNX, folder / NUDENET_ONNX.name)
    (folder / "tokenizer").mkdir()
    for name in ("config.json", "tokenizer.json", "vocab.txt"):
        if (MINILM_DIR / name).exists():
            shutil.copy2(MINILM_DIR / name, folder / "tokenizer" / name)
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OVTOOL_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("OVTOOL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "ovtool"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_root() == Path.home() / ".cache" / "ovtool"


def test_round_trip_hard_links_and_payload(model_folder: Path, tmp_path: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    result = StageResult("convert", metrics={"latency": Metric(1.5, "ms")})
    assert cache.lookup(KEY) is None
    stored = cache.store(KEY, model_folder, pickle.dumps(result), {"stage": "convert"})
    assert stored.meta["stage"] == "convert" and stored.meta["file_count"] == len(files_of(model_folder))
    assert not any(p.name.startswith(store_mod.STORE_PREFIX) for p in (cache.root / "tmp").iterdir())

    entry = cache.lookup(KEY)
    assert entry is not None and entry.path == stored.path
    assert pickle.loads(entry.payload()).metrics["latency"].value == 1.5
    assert files_of(entry.files_dir) == files_of(model_folder)
    # the store copied: the source can change without touching the entry
    assert (entry.files_dir / NUDENET_ONNX.name).stat().st_ino != (model_folder / NUDENET_ONNX.name).stat().st_ino

    dest = tmp_path / "run" / "convert"
    cache.materialize(entry, dest)
    assert files_of(dest) == files_of(model_folder)
    linked = dest / NUDENET_ONNX.name
    assert not linked.is_symlink() and linked.stat().st_ino == (entry.files_dir / NUDENET_ONNX.name).stat().st_ino
    moved = tmp_path / "moved"
    shutil.move(str(tmp_path / "run"), moved)  # self-contained: the run folder moves and still holds the model
    assert files_of(moved / "convert") == files_of(model_folder)


def test_materialize_copies_across_filesystems(model_folder: Path, tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm)")
    cache = StageCache(tmp_path / "cache")
    entry = cache.store(KEY, model_folder, b"", {"stage": "convert"})
    with scratch.owned_tempdir("ovtool-test-", parent=shm) as dest:
        cache.materialize(entry, dest / "m")
        assert files_of(dest / "m") == files_of(model_folder)
        assert (dest / "m" / NUDENET_ONNX.name).stat().st_nlink == 1


def _flip_byte(entry_path: Path) -> None:
    target = entry_path / "files" / NUDENET_ONNX.name
    with open(target, "r+b") as fh:  # same size, same inode: only the content differs
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))


def _truncate_manifest(entry_path: Path) -> None:
    manifest = entry_path / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])


def _truncate_file(entry_path: Path) -> None:
    os.truncate(entry_path / "files" / NUDENET_ONNX.name, 100)


CORRUPTIONS = {
    "flipped byte": _flip_byte,
    "deleted file": lambda p: (p / "files" / "tokenizer" / "config.json").unlink(),
    "truncated manifest": _truncate_manifest,
    "truncated file": _truncate_file,
    "extra file": lambda p: (p / "files" / "stray.bin").write_bytes(b"x"),
    "payload changed": lambda p: (p / "payload.bin").write_bytes(b"other"),
    "no meta": lambda p: (p / "meta.json").unlink(),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_corrupt_entry_is_removed_never_used(corrupt, model_folder: Path, tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    cache = StageCache(tmp_path / "cache")
    entry = cache.store(KEY, model_folder, b"payload", {"stage": "convert"})
    corrupt(entry.path)
    assert cache.lookup(KEY) is None
    assert not entry.path.exists()
    assert "corrupt or half-written" in capfd.readouterr().err
    assert cache.lookup(KEY) is None  # gone, not re-detected
    again = cache.store(KEY, model_folder, b"payload", {"stage": "convert"})  # recomputed and stored again
    assert cache.lookup(KEY) is not None and files_of(again.files_dir) == files_of(model_folder)


def _store_in_child(root: str, folder: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    cache = StageCache(Path(root))
    barrier.wait()
    entry = cache.store(KEY, Path(folder), f"from {os.getpid()}".encode(), {"stage": "convert"})
    out.put((str(entry.path), entry.payload().decode()))


def test_two_processes_storing_one_key_both_succeed_one_entry(model_folder: Path, tmp_path: Path) -> None:
    big = model_folder / "big.bin"
    big.write_bytes(os.urandom(64 << 20))  # long enough a copy that the two stores overlap
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_store_in_child, args=(str(tmp_path / "cache"), str(model_folder), barrier, out))
             for _ in range(2)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    results = [out.get(timeout=5) for _ in procs]
    assert results[0] == results[1]  # both got the winner's entry (its payload), not their own
    cache = StageCache(tmp_path / "cache")
    assert [e.key for e in cache.entries()] == [KEY]
    assert cache.lookup(KEY) is not None
    assert files_of(cache.lookup(KEY).files_dir) == files_of(model_folder)
    assert [p.name for p in (cache.root / "tmp").iterdir()] == []


LOCK_CHILD = """
import sys, time
from pathlib import Path
from ovtool.cache.store import StageCache
cache = StageCache(Path(sys.argv[1]))
with cache.lock(sys.argv[2]):
    print(f"in {time.time()}", flush=True)
    time.sleep(float(sys.argv[3]))
print(f"out {time.time()}", flush=True)
"""


def test_the_lock_makes_a_second_run_wait_and_say_so(tmp_path: Path) -> None:
    root = str(tmp_path / "cache")
    first = subprocess.Popen([sys.executable, "-c", LOCK_CHILD, root, KEY, "2"], stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None and first.stdout.readline().startswith("in ")
    second = subprocess.run([sys.executable, "-c", LOCK_CHILD, root, KEY, "0"], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    first_out = first.communicate(timeout=60)[0]
    released = float(first_out.split()[1])
    entered = float(second.stdout.split()[1])
    assert entered >= released  # it waited for the first to finish
    assert f"waiting for another ovtool run (pid {first.pid}) using cache entry {KEY[:12]}" in second.stderr
    with StageCache(Path(root)).lock("cd" + "1" * 62):  # another key is not blocked
        pass


def test_a_killed_store_is_swept(tmp_path: Path, model_folder: Path) -> None:
    root = tmp_path / "cache"
    code = (
        "import os, sys\nfrom pathlib import Path\nfrom ovtool.cache import store\n"
        f"c = store.StageCache(Path({str(root)!r}))\n"
        "store.StageCache._fill = lambda *a: os._exit(9)  # killed mid-copy: no cleanup runs\n"
        f"c.store({KEY!r}, Path({str(model_folder)!r}), b'', {{}})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    left = list((root / "tmp").iterdir())
    assert len(left) == 1 and left[0].name.startswith(store_mod.STORE_PREFIX)
    cache = StageCache(root)  # every cache opened sweeps dead stores
    assert list((root / "tmp").iterdir()) == [] and cache.lookup(KEY) is None


def _aged(cache: StageCache, key: str, folder: Path, days: float) -> Path:
    entry = cache.store(key, folder, b"", {"stage": "quantize"})
    stamp = time.time() - days * 86400
    os.utime(entry.path, (stamp, stamp))
    return entry.path


def test_prune_by_age_then_size_lru_and_a_hit_counts_as_use(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    folders = []
    for n in range(4):
        folder = tmp_path / f"out{n}"
        folder.mkdir()
        (folder / "w.bin").write_bytes(bytes([n]) * 100_000)
        folders.append(folder)
    keys = [f"{n:02d}" + "e" * 62 for n in range(4)]
    paths = [_aged(cache, k, f, days) for k, f, days in zip(keys, folders, (40, 20, 10, 5), strict=True)]
    assert cache.lookup(keys[1]) is not None  # a hit: used now, the most recent
    assert [e.key for e in cache.entries()] == [keys[0], keys[2], keys[3], keys[1]]

    assert [e.key for e in cache.prune(30 * 86400, None, dry_run=True)] == [keys[0]]
    assert paths[0].exists()
    assert [e.key for e in cache.prune(30 * 86400, None)] == [keys[0]]
    assert not paths[0].exists()

    size = cache.size_bytes()
    assert size >= 3 * 100_000
    removed = cache.prune(None, size - 1)  # one over: the least recently used goes
    assert [e.key for e in removed] == [keys[2]]
    with cache.lock(keys[3]):  # in use by a run: kept even though it is the oldest left
        removed = cache.prune(None, 0)
    assert [e.key for e in removed] == [keys[1]]
    assert [e.key for e in cache.entries()] == [keys[3]]


def test_clear_removes_every_entry(tmp_path: Path, model_folder: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    for key in ("aa" + "1" * 62, "bb" + "2" * 62):
        cache.store(key, model_folder, b"", {"stage": "convert"})
    assert cache.clear() == 2
    assert cache.entries() == [] and cache.size_bytes() == 0


def test_store_of_no_folder_and_bad_keys(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    entry = cache.store(KEY, None, b"measurements", {"stage": "benchmark"})
    assert cache.lookup(KEY) is not None and entry.payload() == b"measurements"
    for bad in ("../../etc", "short", "a/b" * 10, ""):
        with pytest.raises(ValueError, match="invalid cache key"):
            cache.lookup(bad)


def test_stage_key_is_canonical_and_covers_every_part() -> None:
    base = {"stage": "quantize", "section": {"weights": {"mode": "int4", "group_size": 64}, "ratio": 0.8},
            "input_hashes": {"model": "a" * 64}, "versions": {"nncf": "3.4.0"}, "extra": {"device": "CPU"}}  # fmt: skip
    key = stage_key(**base)
    reordered = {**base, "section": {"ratio": 0.8, "weights": {"group_size": 64, "mode": "int4"}}}
    assert stage_key(**reordered) == key and len(key) == 64
    changes = {
        "stage": "convert", "section": {**base["section"], "ratio": 1.0}, "input_hashes": {"model": "b" * 64},
        "versions": {"nncf": "3.5.0"}, "extra": {"device": "GPU"},
    }  # fmt: skip
    for name, value in changes.items():
        assert stage_key(**{**base, name: value}) != key, name
    assert stage_key(**{**base, "extra": {"p": Path("a/b")}}) == stage_key(**{**base, "extra": {"p": "a/b"}})
    with pytest.raises(TypeError, match="not JSON"):
        stage_key(**{**base, "extra": {"x": object()}})


def test_library_versions_import_nothing() -> None:
    code = (
        "import sys, json\nfrom ovtool.cache.keys import library_versions\n"
        "v = library_versions(['openvino', 'nncf', 'no-such-dist'])\n"
        "print(json.dumps([v, sorted(m for m in ('openvino', 'nncf', 'torch') if m in sys.modules)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    versions, imported = json.loads(proc.stdout)
    assert versions["openvino"] and versions["nncf"] and versions["no-such-dist"] is None
    assert imported == []
    assert library_versions(["openvino"]) == {"openvino": versions["openvino"]}
