"""The tuning store: one small JSON file per key under the ovtool cache folder (<cache>/tuning/<key>.json).

The key is what makes a measured choice valid elsewhere: the model's content (the IR's .xml and .bin,
hashed through the cache's HashIndex, so an unchanged IR is not read again), the CPU model with the ISA
flags that matter, the OpenVINO version and the device. A lookup costs a few stat calls and one small
file read: no OpenVINO import, no IR parsing (generate asks on every run).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool.artifacts import write_atomic
from ovtool.backends.openvino.cpu_caps import cpu_identity
from ovtool.cache.hash_index import HashIndex
from ovtool.cache.keys import library_versions
from ovtool.cache.store import cache_root
from ovtool.ir_folder import IRFolder

FORMAT = 1
FOLDER = "tuning"


def store_dir() -> Path:
    return cache_root() / FOLDER


@dataclass(frozen=True)
class TuneKey:
    """What a stored choice is valid for; `digest` names its file."""

    model: str
    cpu: str
    openvino: str
    device: str

    @property
    def digest(self) -> str:
        text = json.dumps({"format": FORMAT, **self.__dict__}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def key_for(model_dir: Path, device: str) -> TuneKey:
    """The key of an IR (folder or .xml) on this machine (content hash of the IR's .xml and .bin)."""
    folder = IRFolder.find(model_dir) or IRFolder.at(model_dir)
    index = HashIndex(cache_root())
    model = hashlib.sha256("".join(index.file_hash(p) for p in (folder.xml, folder.bin)).encode())
    version = library_versions(["openvino"])["openvino"] or "none"
    return TuneKey(model=model.hexdigest(), cpu=cpu_identity(), openvino=version, device=device.upper())


def lookup(key: TuneKey) -> dict[str, Any] | None:
    """The stored record for `key`, or None (a missing, unreadable or foreign file counts as none)."""
    path = store_dir() / f"{key.digest}.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    valid = isinstance(record, dict) and record.get("key") == key.__dict__ and isinstance(record.get("settings"), dict)
    return record if valid else None


def save(key: TuneKey, kind: str, settings: dict[str, Any], table: list[dict[str, Any]],
         cpu_name: str, goal: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Store the choice (written to a temporary file and renamed: a reader never sees half of it).

    `goal` (static models: "latency" or "throughput") is what the hint/streams were chosen for:
    `benchmark --precision auto` applies them only to a benchmark with the same goal.
    """
    record = {"format": FORMAT, "key": key.__dict__, "kind": kind, "settings": settings, "tried": table,
              "cpu_name": cpu_name, "measured_at": time.time()}  # fmt: skip
    if goal is not None:
        record["goal"] = goal
    folder = store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / f"{key.digest}.json", json.dumps(record, indent=1, sort_keys=True))
    return record


def count() -> int:
    """How many choices are stored (for `ovtool env`)."""
    folder = store_dir()
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0
