"""`ovtool cache ls|du|prune|clear` through the real entry point, on a cache holding real stored folders."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ovtool.cache.store import StageCache
from tests.conftest import MINILM_DIR, NUDENET_ONNX, run_cli

OLD, NEW = "aa" + "0" * 62, "bb" + "1" * 62


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    """A cache with a convert entry (NudeNet ONNX) unused for 30 days and a recent one (MiniLM folder)."""
    root = tmp_path / "cache"
    cache = StageCache(root)
    old = cache.store(OLD, NUDENET_ONNX.parent, b"r1", {"stage": "convert"})
    cache.store(NEW, MINILM_DIR, b"r2", {"stage": "quantize"})
    stamp = time.time() - 30 * 86400
    os.utime(old.path, (stamp, stamp))
    return {"OVTOOL_CACHE": str(root)}


def test_ls_and_du(cache_env: dict[str, str]) -> None:
    proc = run_cli("cache", "ls", env=cache_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [[OLD, "convert"], [NEW, "quantize"]]  # least recently used first
    assert "2 entries" in proc.stderr
    listed = json.loads(run_cli("cache", "ls", "--json", env=cache_env).stdout)
    assert [e["key"] for e in listed] == [OLD, NEW] and all(e["size_bytes"] > 1000 for e in listed)
    assert listed[0]["last_used_at"] < time.time() - 29 * 86400

    du = run_cli("cache", "du", "--json", env=cache_env)
    assert du.returncode == 0, du.stderr
    record = json.loads(du.stdout)
    assert record["entries"] == 2 and record["bytes"] == sum(e["size_bytes"] for e in listed)
    assert record["by_stage"] == {"convert": 1, "quantize": 1}
    human = run_cli("cache", "du", env=cache_env)
    assert human.returncode == 0 and human.stdout.strip().endswith(cache_env["OVTOOL_CACHE"])


def test_prune_by_age_then_size_and_clear(cache_env: dict[str, str]) -> None:
    dry = run_cli("cache", "prune", "--older-than", "7d", "--dry-run", env=cache_env)
    assert dry.returncode == 0 and dry.stdout.split() == [OLD] and "would remove 1 entry" in dry.stderr
    assert len(StageCache(Path(cache_env["OVTOOL_CACHE"])).entries()) == 2

    pruned = run_cli("cache", "prune", "--older-than", "7d", env=cache_env)
    assert pruned.returncode == 0 and pruned.stdout.split() == [OLD], pruned.stderr
    assert [line.split()[0] for line in run_cli("cache", "ls", env=cache_env).stdout.splitlines()] == [NEW]

    kept = run_cli("cache", "prune", "--max-size", "20G", env=cache_env)
    assert kept.returncode == 0 and kept.stdout == ""
    shrunk = run_cli("cache", "prune", "--max-size", "1K", env=cache_env)
    assert shrunk.returncode == 0 and shrunk.stdout.split() == [NEW]

    StageCache(Path(cache_env["OVTOOL_CACHE"])).store(OLD, NUDENET_ONNX.parent, b"", {"stage": "convert"})
    cleared = run_cli("cache", "clear", env=cache_env)
    assert cleared.returncode == 0 and cleared.stdout.split() == [OLD] and "removed 1 entry" in cleared.stderr
    empty = run_cli("cache", "ls", env=cache_env)
    assert empty.returncode == 0 and empty.stdout == "" and "empty" in empty.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-size", "20Q"], "--max-size '20Q' is not a size"),
        (["--older-than", "7x"], "--older-than '7x' is not a duration"),
        ([], "give --older-than and/or --max-size"),
    ],
)
def test_prune_bad_input_is_one_line_exit_2(cache_env: dict[str, str], args: list[str], needle: str) -> None:
    proc = run_cli("cache", "prune", *args, env=cache_env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert proc.stdout == ""
    assert len(StageCache(Path(cache_env["OVTOOL_CACHE"])).entries()) == 2  # nothing removed


def test_units_parse_and_format() -> None:
    from ovtool.cache.units import format_age, format_size, parse_duration, parse_size

    assert parse_size("20G") == 20 << 30 and parse_size("512m") == 512 << 20 and parse_size("1.5TiB") == 3 << 39
    assert parse_size("1000") == 1000 and parse_size("2KB") == 2048
    assert parse_duration("7d") == 7 * 86400 and parse_duration("1d12h") == 1.5 * 86400 and parse_duration("90s") == 90
    for bad in ("20Q", "G", "-1G", ""):
        with pytest.raises(ValueError, match="not a size"):
            parse_size(bad)
    for bad in ("7", "7x", "d", "7d x"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)
    assert format_size(512) == "512B" and format_size(20 << 30) == "20.0G" and format_age(3 * 86400 + 5) == "3d"
