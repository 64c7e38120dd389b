"""Splitting a text dataset into disjoint parts: reproducible, stratified by label, leak-free.

`ovtool.data.text` reads text data; this is the one splitter every stage, script and test uses
(`text.bbc_splits` is the canonical BBC News split made with it).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ovtool.data.text import TextDataError, _column

if TYPE_CHECKING:
    import datasets


def _target_counts(n: int, ratios: Mapping[str, float]) -> dict[str, int]:
    """Split sizes summing to n (largest remainder; every split with a ratio > 0 gets >= 1 when n allows)."""
    total = sum(ratios.values())
    quotas = {name: n * r / total for name, r in ratios.items()}
    counts = {name: int(q) for name, q in quotas.items()}
    order = sorted(ratios, key=lambda name: (-(quotas[name] - counts[name]), list(ratios).index(name)))
    for name in order[: n - sum(counts.values())]:
        counts[name] += 1
    for name in ratios:
        if counts[name] == 0 and ratios[name] > 0:
            donor = max(counts, key=lambda k: counts[k])
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[name] += 1
    return counts


def split_dataset(
    ds: datasets.Dataset, *, ratios: Mapping[str, float], seed: int = 0, stratify: bool = True
) -> dict[str, datasets.Dataset]:
    """Split into disjoint parts, e.g. {'train': 0.8, 'validation': 0.1, 'test': 0.1}; same input, same split.

    Why not `train_test_split` twice: the split must be reproducible from (data, ratios, seed) alone,
    stratified by 'label' when there is one (each label gets its share in every part, to about one
    sample) and leak-free: identical texts always land in the same part (BBC News has 98 duplicated
    articles), so a test split never holds a copy of a training sample. Sizes follow the ratios
    exactly when there are no duplicates. Each part comes back in a seeded random order, so taking
    its first N rows gives a representative sample.
    """
    if not ratios:
        raise TextDataError("split ratios are empty — give e.g. {'train': 0.8, 'test': 0.2}")
    if any(not (0 <= r <= 1) for r in ratios.values()) or abs(sum(ratios.values()) - 1) > 1e-6:
        raise TextDataError(f"split ratios {dict(ratios)} must each be in [0, 1] and sum to 1")
    n = len(ds)
    if n < sum(1 for r in ratios.values() if r > 0):
        raise TextDataError(f"cannot split {n} samples into {len(ratios)} parts — give more data or fewer parts")
    rng = random.Random(seed)
    texts = _column(ds, "text") if "text" in ds.column_names else list(range(n))
    labels = _column(ds, "label") if stratify and "label" in ds.column_names else [0] * n

    # Units: groups of identical texts (first occurrence order), each with the label of its first sample.
    groups: dict[Any, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(text, []).append(i)
    by_stratum: dict[Any, list[list[int]]] = {}
    for members in groups.values():
        by_stratum.setdefault(labels[members[0]], []).append(members)
    units: list[list[int]] = []
    for stratum in sorted(by_stratum, key=repr):
        block = by_stratum[stratum]
        rng.shuffle(block)
        units.extend(block)

    # Deal units in order to the part furthest behind its share: every contiguous run of units (one
    # stratum) is spread over the parts in proportion, and the totals meet the exact target sizes.
    names = list(ratios)
    targets = _target_counts(n, ratios)
    assigned: dict[str, list[int]] = {name: [] for name in names}
    dealt = 0
    for members in units:
        size = len(members)
        fits = [name for name in names if len(assigned[name]) + size <= targets[name]] or names
        best = max(fits, key=lambda name: (targets[name] / n * (dealt + size) - len(assigned[name]),
                                           -names.index(name)))  # fmt: skip
        assigned[best].extend(members)
        dealt += size

    parts = {}
    for name in names:
        indices = assigned[name]
        rng.shuffle(indices)
        parts[name] = ds.select(indices)
    return parts
