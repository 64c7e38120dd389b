"""ovtool.data.text: every format, the error messages, deterministic leak-free splits, the real assets."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ovtool.data.corpus import chunk_texts, load_text_corpus
from ovtool.data.text import (
    CANONICAL_RATIOS,
    TextDataError,
    bbc_splits,
    label_names,
    load_text_dataset,
    texts_and_labels,
)
from ovtool.data.text_split import split_dataset
from ovtool.errors import UserError
from tests.conftest import BBC_DIR, SHAKESPEARE_DIR

if TYPE_CHECKING:
    import datasets

ROWS = [
    {"text": "stocks rallied on strong earnings", "label": "business", "id": 1},
    {"text": "the striker scored twice", "label": "sport", "id": 2},
    {"text": "a new phone with a faster chip", "label": "tech", "id": 3},
    {"text": "markets fell after the rate decision", "label": "business", "id": 4},
]


def rows_as(tmp_path: Path, fmt: str, rows: list[dict] = ROWS) -> Path:
    """Write rows in one of the tabular formats."""
    path = tmp_path / f"data.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "json":
        path.write_text(json.dumps(rows))
    elif fmt == "csv":
        import csv

        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def error_of(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(TextDataError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def make_labeled(n_per_label: dict[str, int]) -> datasets.Dataset:
    import datasets

    texts, labels = [], []
    names = sorted(n_per_label)
    for index, name in enumerate(names):
        for i in range(n_per_label[name]):
            texts.append(f"{name} sample {i}")
            labels.append(index)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    return datasets.Dataset.from_dict({"text": texts, "label": labels}, features=features)


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_tabular_formats_give_text_and_classlabel(tmp_path: Path, fmt: str) -> None:
    ds = load_text_dataset(rows_as(tmp_path, fmt))
    assert ds.column_names == ["text", "label"]  # other columns dropped
    assert ds["text"][:] == [r["text"] for r in ROWS]
    assert label_names(ds) == ["business", "sport", "tech"]  # sorted names
    assert [label_names(ds)[i] for i in ds["label"][:]] == [r["label"] for r in ROWS]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_custom_fields_are_renamed(tmp_path: Path, fmt: str) -> None:
    rows = [{"body": r["text"], "topic": r["label"]} for r in ROWS]
    ds = load_text_dataset(rows_as(tmp_path, fmt, rows), text_field="body", label_field="topic")
    assert ds.column_names == ["text", "label"]
    assert texts_and_labels(ds) == ([r["text"] for r in ROWS], [0, 1, 2, 0])


def test_integer_labels_keep_their_ids(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": 2}, {"text": "b", "label": 0}, {"text": "c", "label": 2}]
    ds = load_text_dataset(rows_as(tmp_path, "jsonl", rows))
    assert ds["label"][:] == [2, 0, 2]
    assert label_names(ds) == ["0", "1", "2"]


def test_missing_default_label_means_unlabeled(tmp_path: Path) -> None:
    ds = load_text_dataset(rows_as(tmp_path, "csv", [{"text": "one"}, {"text": "two"}]))
    assert ds.column_names == ["text"]
    assert texts_and_labels(ds) == (["one", "two"], None)
    assert label_names(ds) is None


def test_label_field_none_drops_labels(tmp_path: Path) -> None:
    ds = load_text_dataset(rows_as(tmp_path, "jsonl"), label_field=None)
    assert ds.column_names == ["text"]


def test_txt_one_sample_per_nonempty_line(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("first line\n\n  second line  \r\nthird\n\n")
    ds = load_text_dataset(path)
    assert ds.column_names == ["text"]
    assert ds["text"][:] == ["first line", "second line", "third"]


def test_folder_per_label_sorted_names_and_encodings(tmp_path: Path) -> None:
    for label, texts in {"tech": ["chips", "phones"], "arts": ["opera"], "empty": []}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i:03d}.txt").write_text(text + "\n")
    (tmp_path / "arts" / "001.txt").write_bytes("caf\xe9 \xa310".encode("latin-1"))  # not UTF-8
    (tmp_path / "tech" / "notes.md").write_text("ignored: not .txt")
    ds = load_text_dataset(tmp_path)  # detected as folder-per-label
    assert label_names(ds) == ["arts", "tech"]  # folders without .txt are not labels
    assert ds["text"][:] == ["opera", "café £10", "chips", "phones"]
    assert ds["label"][:] == [0, 0, 1, 1]


def test_txt_files_corpus_from_folder_file_and_glob(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n**HAMLET**  \nTo be, or not to be: that is the question.\n")
    (tmp_path / "b.txt").write_text("Second file.\n\nAnother paragraph.")
    by_folder = load_text_dataset(tmp_path, fmt="txt-files")
    assert by_folder.column_names == ["text"]
    by_glob = load_text_dataset(tmp_path / "*.md")
    assert by_glob["text"][:] == load_text_dataset(tmp_path / "a.md")["text"][:]
    assert "HAMLET\nTo be, or not to be" in by_glob["text"][0] and "**" not in by_glob["text"][0]
    # a folder of plain files (no label subfolders) is detected as txt-files
    assert load_text_dataset(tmp_path)["text"][:] == by_folder["text"]


def test_split_argument_gives_the_canonical_part(tmp_path: Path) -> None:
    rows = [{"text": f"text {i}", "label": "ab"[i % 2]} for i in range(40)]
    path = rows_as(tmp_path, "jsonl", rows)
    parts = split_dataset(load_text_dataset(path), ratios=CANONICAL_RATIOS, seed=0)
    for name, part in parts.items():
        assert load_text_dataset(path, split=name)["text"][:] == part["text"][:]
    assert "unknown split 'dev'" in error_of(load_text_dataset, path, split="dev")


# ---------------------------------------------------------------- errors


def test_error_is_a_value_error_and_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_text_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(UserError) as info:
        load_text_dataset(tmp_path / "nope.jsonl")
    assert info.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    message = error_of(load_text_dataset, tmp_path / "nope.jsonl")
    assert "nope.jsonl" in message and "no such file" in message and "check the data path" in message


EMPTY_FILES = [("empty.txt", ""), ("blank.txt", "\n \n"), ("header.csv", "text,label\n"), ("empty.jsonl", ""),
               ("empty.json", "[]")]  # fmt: skip


@pytest.mark.parametrize(("name", "content"), EMPTY_FILES)
def test_empty_data(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    message = error_of(load_text_dataset, path)
    assert name in message
    assert "no samples" in message or "cannot read" in message


def test_wrong_text_field_lists_the_fields(tmp_path: Path) -> None:
    message = error_of(load_text_dataset, rows_as(tmp_path, "csv"), text_field="body")
    assert "no text field 'body'" in message and "fields: text, label, id" in message
    assert "set the text field" in message


def test_explicit_label_field_must_exist(tmp_path: Path) -> None:
    message = error_of(load_text_dataset, rows_as(tmp_path, "jsonl"), label_field="topic")
    assert "no label field 'topic'" in message and "fields: text, label, id" in message


def test_non_text_field_and_missing_labels(tmp_path: Path) -> None:
    assert "is not text" in error_of(load_text_dataset, rows_as(tmp_path, "jsonl"), text_field="id")
    rows = [{"text": "a", "label": "x"}, {"text": "b", "label": None}]
    assert "sample 1 has no label" in error_of(load_text_dataset, rows_as(tmp_path, "jsonl", rows))


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "data.xml"
    path.write_text("<a/>")
    message = error_of(load_text_dataset, path)
    assert "unknown text format '.xml'" in message and "jsonl" in message
    assert "unknown text format 'yaml'" in error_of(load_text_dataset, rows_as(tmp_path, "csv"), fmt="yaml")


def test_unreadable_file_names_the_format(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_text("this is not parquet")
    message = error_of(load_text_dataset, path)
    assert "broken.parquet" in message and "cannot read as parquet" in message


def test_folder_errors(tmp_path: Path) -> None:
    assert "no label subfolders" in error_of(load_text_dataset, tmp_path, fmt="folder")
    assert "is a folder" in error_of(load_text_dataset, tmp_path, fmt="csv")
    (tmp_path / "x.bin").write_bytes(b"\0")
    assert "neither label subfolders" in error_of(load_text_dataset, tmp_path)
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "1.JPG").write_bytes(b"\xff\xd8")
    message = error_of(load_text_dataset, tmp_path)
    assert "a folder of images where text data is read" in message and "--data-kind image" in message


# ---------------------------------------------------------------- splits


def test_split_is_deterministic_disjoint_and_complete() -> None:
    ds = make_labeled({"a": 50, "b": 30, "c": 20})
    ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    first = split_dataset(ds, ratios=ratios, seed=0)
    again = split_dataset(ds, ratios=ratios, seed=0)
    other = split_dataset(ds, ratios=ratios, seed=1)
    assert {k: v["text"][:] for k, v in first.items()} == {k: v["text"][:] for k, v in again.items()}
    assert set(first["test"]["text"][:]) != set(other["test"]["text"][:])
    assert {k: len(v) for k, v in first.items()} == {"train": 80, "validation": 10, "test": 10}
    sets = [set(part["text"][:]) for part in first.values()]
    assert set.union(*sets) == set(ds["text"][:]) and sum(map(len, sets)) == len(ds)
    assert all(part.features == ds.features for part in first.values())


def test_split_is_stratified() -> None:
    counts = {"a": 97, "b": 41, "c": 13, "d": 5}
    ds = make_labeled(counts)
    ratios = {"train": 0.7, "validation": 0.15, "test": 0.15}
    parts = split_dataset(ds, ratios=ratios, seed=3)
    for name, part in parts.items():
        per_label = collections.Counter(part["label"][:])
        for index, label in enumerate(sorted(counts)):
            assert abs(per_label[index] - counts[label] * ratios[name]) <= 1.0, (name, label, per_label)


def test_unstratified_and_unlabeled_splits() -> None:
    import datasets

    ds = datasets.Dataset.from_dict({"text": [f"t{i}" for i in range(10)]})
    parts = split_dataset(ds, ratios={"train": 0.5, "test": 0.5}, seed=0)
    assert len(parts["train"]) == len(parts["test"]) == 5
    labeled = make_labeled({"a": 10, "b": 10})
    parts = split_dataset(labeled, ratios={"train": 0.5, "test": 0.5}, seed=0, stratify=False)
    assert sorted(parts["train"]["text"][:] + parts["test"]["text"][:]) == sorted(labeled["text"][:])


def test_duplicate_texts_stay_in_one_part() -> None:
    import datasets

    texts = [f"unique {i}" for i in range(60)] + ["copy A"] * 3 + ["copy B"] * 2
    ds = datasets.Dataset.from_dict({"text": texts})
    for seed in range(5):
        parts = split_dataset(ds, ratios={"train": 0.8, "test": 0.2}, seed=seed)
        assert not set(parts["train"]["text"][:]) & set(parts["test"]["text"][:])
        assert len(parts["train"]) + len(parts["test"]) == len(ds)


def test_every_part_gets_a_sample_when_possible() -> None:
    parts = split_dataset(make_labeled({"a": 5}), ratios={"train": 0.9, "validation": 0.05, "test": 0.05})
    assert {k: len(v) for k, v in parts.items()} == {"train": 3, "validation": 1, "test": 1}


@pytest.mark.parametrize("ratios", [{}, {"train": 0.8, "test": 0.3}, {"train": 1.2, "test": -0.2}])
def test_bad_ratios(ratios: dict[str, float]) -> None:
    error_of(split_dataset, make_labeled({"a": 10}), ratios=ratios)


def test_too_few_samples_to_split() -> None:
    assert "cannot split 2 samples" in error_of(
        split_dataset, make_labeled({"a": 2}), ratios={"a": 0.4, "b": 0.3, "c": 0.3}
    )


# ---------------------------------------------------------------- chunks


def test_chunk_texts_packs_paragraphs_within_bounds() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 20 for i in range(10))
    chunks = chunk_texts([text, "short"], max_chars=300, min_chars=50)
    assert all(50 <= len(c) <= 300 for c in chunks)
    assert len(chunks) > 1 and "short" not in chunks  # below min_chars
    assert chunks[0].startswith("Paragraph 0") and "\n\nParagraph 1" in chunks[0]


def test_chunk_texts_cuts_long_paragraphs_and_never_spans_texts() -> None:
    long_paragraph = "\n".join("a verse line of some length" for _ in range(40))
    chunks = chunk_texts([long_paragraph, "x" * 250, "end"], max_chars=100)
    assert all(len(c) <= 100 for c in chunks)
    assert all(c.startswith("a verse line") for c in chunks[:-4])  # cut at line breaks
    assert chunks[-4:] == ["x" * 100, "x" * 100, "x" * 50, "end"]
    with pytest.raises(ValueError):
        chunk_texts(["a"], max_chars=0)


def test_corpus_errors(tmp_path: Path) -> None:
    assert "no such file" in error_of(load_text_corpus, tmp_path / "missing")
    assert "matches no .txt/.md files" in error_of(load_text_corpus, tmp_path / "*.md")
    (tmp_path / "tiny.txt").write_text("too short")
    assert "lower min_chars" in error_of(load_text_corpus, tmp_path, min_chars=100)


def test_shakespeare_corpus() -> None:
    chunks = load_text_corpus(SHAKESPEARE_DIR / "*" / "*.md", min_chars=200, max_chars=1500)
    assert len(chunks) > 1000
    assert all(200 <= len(c) <= 1500 for c in chunks)
    assert not any("**" in c or c.startswith("#") for c in chunks)  # Markdown reduced to text
    roman = SHAKESPEARE_DIR / "roman"
    assert load_text_corpus(roman) == load_text_corpus(roman / "*.md")  # folder == glob
    sample = load_text_corpus(roman, max_samples=32, seed=7)
    assert len(sample) == 32 and len(set(sample)) == 32
    assert sample == load_text_corpus(roman, max_samples=32, seed=7)
    assert sample != load_text_corpus(roman, max_samples=32, seed=8)


# ---------------------------------------------------------------- the canonical BBC split


@pytest.fixture(scope="module")
def bbc() -> dict:
    if not BBC_DIR.exists():
        raise RuntimeError("real assets missing: run `make install` (scripts/fetch_assets.py)")
    return bbc_splits(BBC_DIR)


def test_bbc_splits_sizes_and_labels(bbc: dict) -> None:
    sizes = {name: len(part) for name, part in bbc.items()}
    assert sizes == {"train": 1780, "validation": 223, "test": 222}
    assert sum(sizes.values()) == 2225
    assert label_names(bbc["train"]) == ["business", "entertainment", "politics", "sports", "tech"]
    totals = collections.Counter(label for part in bbc.values() for label in part["label"][:])
    assert totals == {0: 510, 1: 386, 2: 417, 3: 511, 4: 401}
    for label, total in totals.items():
        assert abs(collections.Counter(bbc["test"]["label"][:])[label] - total * 0.1) <= 1


def test_bbc_test_split_is_held_out(bbc: dict) -> None:
    train, validation, test = (set(bbc[k]["text"][:]) for k in ("train", "validation", "test"))
    assert not train & test and not train & validation and not validation & test  # no duplicate leaks either
    assert any("£" in t for t in train | validation | test)  # the non-UTF-8 file decodes to real text
    assert not any("\ufffd" in t for t in train | validation | test)


def test_bbc_splits_are_reproducible(bbc: dict) -> None:
    again = bbc_splits(BBC_DIR, seed=0)
    assert all(again[k]["text"][:] == bbc[k]["text"][:] for k in bbc)
    assert load_text_dataset(BBC_DIR, split="test")["text"][:] == bbc["test"]["text"][:]
