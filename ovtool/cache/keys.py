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
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

from ovtool import __version__

KEY_FORMAT = 1  # bump when the key's shape or the entry layout changes: old entries stop matching


def library_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed distribution versions by name (None: not installed); no library is imported."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out  # in the order asked (keys are canonical JSON with sorted keys anyway)


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
