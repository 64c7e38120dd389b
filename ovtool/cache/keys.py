"""What a stage's cache key is made of, as canonical JSON hashed with sha256.

The key covers everything that can change a stage's output: its resolved section, the content
hashes of its inputs, the versions of the libraries it uses (read from the installed distributions'
metadata: no library is imported), anything else the caller names in `extra` (device, inference
precision, seed...) and the ovtool build. The ovtool build is the version, plus a digest of the
package's source files when ovtool runs from a checkout (an editable install): there the version
does not move when the code does, and a stale hit after a code change would be a silent wrong answer.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

from ovtool import __version__

KEY_FORMAT = 1  # bump when the key's shape or the entry layout changes: old entries stop matching


def library_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed distribution versions by name (None: not installed); no library is imported.

    The answers of `importlib.metadata.version`, read without importing it (~12-28 ms of every
    `ovtool generate`, which asks for OpenVINO's version to look up a stored tuning choice, issue #14)
    where sys.path holds only plain folders; anything else is left to importlib.metadata.
    """
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = _dist_version(name)
        except LookupError:
            from importlib import metadata

            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = None
    return out  # in the order asked (keys are canonical JSON with sorted keys anyway)


def _dist_version(name: str) -> str | None:
    """The Version header of the first `<name>-*.dist-info`/`.egg-info` on sys.path, as importlib.metadata
    finds it (same name normalisation, same path order); LookupError when this reading is not enough."""
    if [f for f in sys.meta_path if hasattr(f, "find_distributions")] != [_path_finder()]:
        raise LookupError("another distribution finder")  # e.g. a zip importer or a custom finder
    wanted = _normalize(name)
    for entry in sys.path:
        for child in _infos(entry or ".", _mtime(entry or ".")).get(wanted, ()):
            return _version_header(child)
    return None


def _path_finder() -> object:
    from importlib.machinery import PathFinder

    return PathFinder


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _mtime(entry: str) -> float:
    try:
        return os.stat(entry).st_mtime
    except OSError:
        return 0.0


@functools.cache
def _infos(entry: str, mtime: float) -> dict[str, list[str]]:
    """Metadata folders in one sys.path entry by normalised distribution name, in listing order (cached
    while the folder's mtime stays, as importlib.metadata does)."""
    if entry.endswith(".egg") or (os.path.exists(entry) and not os.path.isdir(entry)):
        raise LookupError(entry)  # eggs and zips hold metadata this reading does not cover
    try:
        children = os.listdir(entry)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise LookupError(entry) from exc
    infos: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            name = _normalize(low.rpartition(".")[0].partition("-")[0])
            infos.setdefault(name, []).append(os.path.join(entry, child))
    return infos


def _version_header(info: str) -> str:
    """`Version:` from METADATA (dist-info) or PKG-INFO (egg-info, a folder or a file)."""
    paths = [info] if os.path.isfile(info) else [os.path.join(info, "METADATA"), os.path.join(info, "PKG-INFO")]
    for path in paths:
        try:
            with open(path, encoding="utf-8") as file:
                for line in file:
                    if not line.strip():
                        break  # end of the headers
                    key, _, value = line.partition(":")
                    if key.lower() == "version":
                        return value.strip()
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise LookupError(path) from exc
    raise LookupError(info)


@functools.cache
def ovtool_build() -> str:
    """The version for an installed wheel; `version+src.<digest>` for a checkout (site-packages not in path)."""
    package = Path(__file__).resolve().parents[1]
    if "site-packages" in package.parts or "dist-packages" in package.parts:
        return __version__
    digest = hashlib.sha256()
    for file in sorted(package.rglob("*.py")):
        digest.update(f"{file.relative_to(package).as_posix()}\0".encode())
        digest.update(file.read_bytes())
    return f"{__version__}+src.{digest.hexdigest()[:16]}"


def _plain(value: Any) -> Any:
    """JSON for the few non-JSON values a resolved section may hold; anything else is refused."""
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=canonical_json)
    if hasattr(value, "model_dump"):  # a pydantic model: its JSON form
        return value.model_dump(mode="json")
    raise TypeError(f"cache key: {type(value).__name__} is not JSON; pass plain values (model_dump(mode='json'))")


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def stage_key(stage: str, section: dict[str, Any], input_hashes: dict[str, str],
              versions: dict[str, str | None], extra: dict[str, Any]) -> str:  # fmt: skip
    """sha256 (hex) of the canonical JSON of everything that determines the stage's output."""
    document = {
        "format": KEY_FORMAT, "ovtool": ovtool_build(), "stage": stage, "section": section,
        "inputs": input_hashes, "versions": versions, "extra": extra,
    }  # fmt: skip
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()
