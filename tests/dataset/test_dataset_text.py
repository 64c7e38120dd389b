"""Text datasets (BBC News, folder per label): stats, split, sample through ovtool.data.text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import BBC_DIR, run_cli


def stage(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())["stages"][0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_bbc_stats(tmp_path: Path, assets: Path) -> None:
    out = tmp_path / "stats"
    proc = run_cli("dataset", "stats", BBC_DIR, "-o", out)
    assert proc.returncode == 0, proc.stderr
    result = stage(out)
    expected = {d.name: len(list(d.glob("*.txt"))) for d in sorted(BBC_DIR.iterdir()) if d.is_dir()}
    assert result["details"]["samples_per_label"] == expected
    assert result["metrics"]["samples"]["value"] == sum(expected.values()) == 2225
    assert result["metrics"]["duplicate_texts"]["value"] > 0  # BBC News repeats some articles
    assert 200 < result["metrics"]["words_mean"]["value"] < 600
    assert (out / "report.html").read_text().count("<img") == 2


@pytest.mark.slow
def test_bbc_split_is_the_canonical_split(tmp_path: Path, assets: Path) -> None:
    from ovtool.data.text import bbc_splits

    out = tmp_path / "split"
    proc = run_cli("dataset", "split", BBC_DIR, "--ratio", "train=0.8", "--ratio", "validation=0.1",
                   "--ratio", "test=0.1", "--seed", "0", "-o", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert stage(out)["details"]["parts"] == {"train": 1780, "validation": 223, "test": 222}
    canonical = bbc_splits(BBC_DIR)
    names = canonical["test"].features["label"].names
    for part in ("train", "validation", "test"):
        rows = read_jsonl(out / "dataset" / f"{part}.jsonl")
        assert [r["text"] for r in rows] == list(canonical[part]["text"])
        assert [r["label"] for r in rows] == [names[i] for i in canonical[part]["label"]]
    train = {r["text"] for r in read_jsonl(out / "dataset" / "train.jsonl")}
    assert not train & {r["text"] for r in read_jsonl(out / "dataset" / "test.jsonl")}


@pytest.mark.slow
def test_bbc_sample_is_seeded(tmp_path: Path, assets: Path) -> None:
    outs = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        out = tmp_path / name
        proc = run_cli("dataset", "sample", BBC_DIR, "-n", "12", "--seed", seed, "--to", "csv", "-o", out)
        assert proc.returncode == 0, proc.stderr
        outs.append((out / "dataset" / "sample.csv").read_text())
    assert outs[0] == outs[1] != outs[2]
    assert outs[0].startswith("text,label")


def test_text_data_refuses_image_verbs(tmp_path: Path, assets: Path) -> None:
    proc = run_cli("dataset", "convert", BBC_DIR, "--to", "coco", "-o", tmp_path / "x")
    assert proc.returncode == 2 and "text data" in proc.stderr


@pytest.mark.parametrize(("name", "content", "cause"), [
    ("cut.jsonl", '{"text": "a", "label": "x"\n', "JSON parse error: Missing a comma or '}' after an object member"),
    ("bad.csv", 'text,label\n"open quote,1\n', "Error tokenizing data"),
    ("bad.parquet", "not parquet", "Parquet magic bytes not found"),
])  # fmt: skip
def test_corrupt_text_file_is_one_error_line_naming_the_cause(name: str, content: str, cause: str,
                                                              tmp_path: Path) -> None:  # fmt: skip
    """The parser's own sentence, once: not datasets' "An error occurred while generating the dataset",
    and not datasets' "Failed to load JSON from file …" log line above ovtool's error."""
    data = tmp_path / name
    data.write_text(content)
    proc = run_cli("dataset", "stats", data, "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("▸ ")]  # progress lines
    assert len(lines) == 1 and lines[0].startswith(f"error: {data}: cannot read as "), proc.stderr
    assert cause in lines[0]
    assert not (tmp_path / "out").exists()
