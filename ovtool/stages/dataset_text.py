"""Text datasets in the dataset stage: statistics (with plots) and writing parts as jsonl/csv/parquet/folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ovtool.results import Metric, Plot, StageResult, Table


def label_counts(ds: Any, names: list[str] | Any) -> dict[str, int]:
    counts = dict.fromkeys(names, 0)
    for label in ds["label"]:
        counts[names[label]] += 1
    return counts


def text_stats(ds: Any, names: Any, result: StageResult) -> None:
    import statistics

    texts = list(ds["text"])
    chars = [len(t) for t in texts]
    words = [len(t.split()) for t in texts]
    duplicates = len(texts) - len(set(texts))
    result.metrics |= {
        "samples": Metric(len(texts), "samples"),
        "chars_mean": Metric(round(statistics.mean(chars), 1), "characters"),
        "chars_median": Metric(statistics.median(chars), "characters"),
        "words_mean": Metric(round(statistics.mean(words), 1), "words"),
        "words_max": Metric(max(words), "words"),
        "duplicate_texts": Metric(duplicates, "samples", "samples whose text equals an earlier sample's"),
    }
    counts = label_counts(ds, names) if names else {}
    result.details |= {"samples_per_label": counts, "chars": {"min": min(chars), "max": max(chars)},
                       "words": {"min": min(words), "max": max(words)}}  # fmt: skip
    if counts:
        result.tables.append(Table("Samples per label", ["label", "samples"], [[k, v] for k, v in counts.items()]))
    result.plots = [Plot(title, png) for title, png in _text_plots(counts, words)]
    result.summary = f"{len(texts)} texts, {len(counts)} labels, {statistics.mean(words):.0f} words on average"


def _text_plots(counts: dict[str, int], words: list[int]) -> list[tuple[str, bytes]]:
    from ovtool.plotting import clipped_hist, png, pyplot

    plt = pyplot()

    figures = []
    if counts:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(list(counts), list(counts.values()))
        ax.set_ylabel("samples")
        figures.append(("Samples per label", fig))
    fig, ax = plt.subplots(figsize=(6, 4))
    clipped_hist(ax, words, "words per text")  # a few very long texts would squeeze the rest into two bars
    ax.set_ylabel("texts")
    figures.append(("Text length", fig))
    return [(title, png(figure)) for title, figure in figures]


def write_text(ds: Any, names: Any, out: Path, part: str, fmt: str) -> None:
    """One part as jsonl/csv/parquet (label as its name) or as a folder per label of .txt files."""
    import csv

    rows = [{"text": row["text"], **({"label": names[row["label"]]} if names else {})} for row in ds]
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with open(out / f"{part}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        with open(out / f"{part}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["text"])
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "parquet":
        from ovtool.data.text import write_parquet

        write_parquet(rows, out / f"{part}.parquet")
    else:
        for index, row in enumerate(rows):
            folder = out / part / row.get("label", "unlabeled")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index:06d}.txt").write_text(row["text"], encoding="utf-8")
