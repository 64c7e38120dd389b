"""The stage cache: stage outputs stored by content key, so a repeated or resumed run does no work twice.

- `store.py`      StageCache: entries verified on every read, published by rename, a lock per key.
- `keys.py`       what a key is made of (resolved section, input hashes, library versions, ovtool build).
- `hash_index.py` HashIndex: (path, size, mtime, inode) → sha256, so unchanged inputs are not re-read.
- `units.py`      human sizes and durations (`20G`, `7d`) for `ovtool cache prune`.

Standard library only (no heavy library, no recipe/pydantic): the runner and the CLI both use it.
See docs/cache.md.
"""

from ovtool.cache.hash_index import HashIndex
from ovtool.cache.keys import library_versions, stage_key
from ovtool.cache.store import CacheEntry, StageCache, cache_root

__all__ = ["CacheEntry", "HashIndex", "StageCache", "cache_root", "library_versions", "stage_key"]
