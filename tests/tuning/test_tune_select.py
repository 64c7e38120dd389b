"""The tuning choice with injected timings, the store's key and round trip, and `auto` using a stored choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovtool.recipe.sections.generate import PerformanceSection
from ovtool.stages.precision import choose
from ovtool.tuning import store
from ovtool.tuning.select import MIN_GAIN, Row, select

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
BF16 = {"INFERENCE_PRECISION_HINT": "bf16"}
DQ64 = F32 | {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 64}


def test_fastest_row_that_passes_the_guard_wins() -> None:
    rows = [Row(F32, 20.0, True), Row(BF16, 10.0, False), Row(DQ64, 15.0, True)]
    assert select(rows) is rows[2]  # bf16 is faster but changed the greedy text


def test_incumbent_kept_unless_clearly_beaten() -> None:
    near = 20.0 * (1 - MIN_GAIN / 2)
    assert select([Row(F32, 20.0, True), Row(DQ64, near, True)]).settings == F32
    assert select([Row(F32, 20.0, True), Row(DQ64, 20.0 * (1 - 2 * MIN_GAIN), True)]).settings == DQ64


def test_no_row_passing_the_guard_gives_none() -> None:
    assert select([Row(F32, 20.0, False), Row(BF16, 5.0, False)]) is None
    assert select([Row(F32, 0.0, True)]) is None  # no timing is no evidence


def _ir(folder: Path, payload: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "openvino_model.xml").write_text("<net/>")
    (folder / "openvino_model.bin").write_bytes(payload)
    return folder


def test_key_follows_content_and_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVTOOL_CACHE", str(tmp_path / "cache"))
    a, b, a_copy = _ir(tmp_path / "a", b"1"), _ir(tmp_path / "b", b"2"), _ir(tmp_path / "c", b"1")
    assert store.key_for(a, "CPU") == store.key_for(a_copy, "cpu")  # same content elsewhere: same key
    assert store.key_for(a, "CPU") != store.key_for(b, "CPU")
    assert store.key_for(a, "CPU").digest != store.key_for(a, "GPU").digest


def test_stored_choice_used_by_auto_recipe_values_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVTOOL_CACHE", str(tmp_path / "cache"))
    model = _ir(tmp_path / "m", b"weights")
    settings = {"INFERENCE_PRECISION_HINT": "f32", "KV_CACHE_PRECISION": "f16", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 64}
    store.save(store.key_for(model, "CPU"), "llm", settings, [], "test CPU")
    assert store.count() == 1

    got = choose(PerformanceSection(), "CPU", model, exact_speculative=False)
    assert (got.precision, got.source) == ("f32", "stored")
    assert got.properties == {"KV_CACHE_PRECISION": "f16", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 64}
    assert got.record()["source"] == "stored"

    mine = choose(PerformanceSection(kv_cache_precision="u8"), "CPU", model, exact_speculative=False)
    assert mine.properties == {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 64}  # the recipe's KV precision wins
    asked = choose(PerformanceSection(inference_precision="bf16"), "CPU", model, exact_speculative=False)
    assert (asked.precision, asked.source, asked.properties) == ("bf16", "asked", {})


def test_changed_ir_or_foreign_record_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVTOOL_CACHE", str(tmp_path / "cache"))
    model = _ir(tmp_path / "m", b"weights")
    key = store.key_for(model, "CPU")
    store.save(key, "llm", {"INFERENCE_PRECISION_HINT": "bf16"}, [], "test CPU")
    assert store.lookup(key) is not None
    (model / "openvino_model.bin").write_bytes(b"other weights")
    assert store.lookup(store.key_for(model, "CPU")) is None
    path = store.store_dir() / f"{key.digest}.json"
    path.write_text(json.dumps({"key": {"model": "x"}, "settings": {}}))
    assert store.lookup(key) is None


def test_a_median_win_that_lost_a_pair_does_not_replace_the_incumbent() -> None:
    noisy = Row(DQ64, 10.0, True, steady=False)  # 2x faster by the median, slower in one pair
    assert select([Row(F32, 20.0, True), noisy]).settings == F32
    assert select([Row(F32, 20.0, True), noisy, Row(BF16, 15.0, True)]).settings == BF16
    assert select([Row(F32, 20.0, False), noisy]) is noisy  # no incumbent to keep: the guard alone decides
