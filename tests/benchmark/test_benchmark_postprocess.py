"""`ovtool benchmark -m PLAIN -m TOPK`: the IR with post-processing in the graph against the same model without it.

Output bytes per inference are checked against the outputs of the IR itself (shapes at the benchmark's input
shape × element sizes), never against hard-coded numbers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli


def ir_output_bytes(xml: Path, shapes: dict[str, list[int]]) -> dict[str, int]:
    """Each output's bytes per inference read from the IR reshaped to `shapes` (independent of the benchmark)."""
    import openvino as ov

    model = ov.Core().read_model(xml)
    model.reshape({name: ov.PartialShape(dims) for name, dims in shapes.items()})
    sizes = {}
    for port in model.outputs:
        count = 1
        for dim in port.get_shape():
            count *= dim
        sizes[port.get_any_name()] = count * port.get_element_type().bitwidth // 8
    return sizes


def benchmark_pair(plain: Path, topk: Path, out: Path, shapes: dict[str, list[int]], iterations: int) -> dict:
    args = [a for name, dims in shapes.items() for a in ("--shape", f"{name}={json.dumps(dims)}")]
    proc = run_cli("benchmark", "-m", plain, "-m", topk, *args, "-n", str(iterations), "--hint", "latency",
                   "--no-cache", "-o", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    details = json.loads((out / "run.json").read_text())["stages"][0]["details"]
    return {"details": details, "stdout": proc.stdout, "report": (out / "report.md").read_text(),
            "csv": list(csv.DictReader((out / "report.csv").open()))}  # fmt: skip


def check_side_by_side(run: dict[str, Any], labels: tuple[str, str], expected: tuple[dict[str, int], dict[str, int]]
                       ) -> tuple[dict, dict]:  # fmt: skip
    base, cand = run["details"]["models"]
    assert (base["label"], cand["label"]) == labels
    for record, sizes in zip((base, cand), expected, strict=True):
        assert {o["name"]: o["bytes"] for o in record["outputs"]} == sizes
        assert record["output_bytes"] == sum(sizes.values())
    ratio = cand["ratios"]["output_size_ratio"]
    assert ratio == pytest.approx(cand["output_bytes"] / base["output_bytes"], rel=1e-3)
    assert cand["ratios"]["latency_ratio"] == pytest.approx(cand["latency_ms"]["p50"] / base["latency_ms"]["p50"],
                                                            rel=1e-3)  # fmt: skip
    side = run["report"].split("### Models side by side")[1].split("###")[0]
    assert "| output bytes | output size ratio |" in side
    for record in (base, cand):
        row = next(line for line in side.splitlines() if line.startswith(f"| {record['label']} |"))
        assert row.split("|")[-3].strip() == str(record["output_bytes"])
    rows = {r["model"]: r for r in run["csv"]}
    assert int(rows[labels[1]]["output_bytes"]) == cand["output_bytes"]
    assert float(rows[labels[1]]["output_size_ratio"]) == ratio
    assert f"{labels[1]}: " in run["stdout"] and "output ×" in run["stdout"] and "latency ×" in run["stdout"]
    return base, cand


@pytest.mark.slow
def test_classifier_top1_against_plain(minilm_bbc_ir: Path, tmp_path: Path) -> None:
    """The BBC MiniLM classifier with `--topk 1 --softmax`: the class id and its probability instead of 5 logits."""
    topk = tmp_path / "top1"
    proc = run_cli("convert", "-m", minilm_bbc_ir, "-o", topk, "--topk", "1", "--softmax", "--no-cache")
    assert proc.returncode == 0, proc.stderr[-2000:]
    shapes = {"input_ids": [1, 64], "attention_mask": [1, 64], "token_type_ids": [1, 64]}
    plain_sizes = ir_output_bytes(minilm_bbc_ir / "openvino_model.xml", shapes)
    top_sizes = ir_output_bytes(topk / "model" / "openvino_model.xml", shapes)
    run = benchmark_pair(minilm_bbc_ir, topk / "model", tmp_path / "bench", shapes, 12)
    labels = (minilm_bbc_ir.parent.name, "top1")  # OUT/model → OUT
    base, cand = check_side_by_side(run, labels, (plain_sizes, top_sizes))
    assert cand["output_bytes"] < base["output_bytes"]  # 1 value + 1 index < 5 logits
    assert set(top_sizes) == {"logits_topk_values", "logits_topk_indices"}
    types = {o["name"]: o["type"] for o in cand["outputs"]}
    assert (types["logits_topk_values"], types["logits_topk_indices"]) == ("f32", "i64")


@pytest.mark.slow
def test_stateless_lm_last_token_top10_against_plain(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    """SmolLM2 made stateless (as tests/convert/test_postprocess.py does), one prefill step of 16 tokens."""
    import openvino as ov
    from openvino._offline_transformations import stateful_to_stateless_transformation

    model = ov.Core().read_model(smollm2_fp16_ir / "openvino_model.xml")
    stateful_to_stateless_transformation(model)
    plain = tmp_path / "plain"
    ov.save_model(model, plain / "openvino_model.xml", compress_to_fp16=False)
    shapes: dict[str, list[int]] = {}
    for port in model.inputs:  # a past of 1 (the benchmark's random inputs need a non-empty past)
        name, dims = port.get_any_name(), port.get_partial_shape()
        if name.startswith("past_key_values"):
            shapes[name] = [1 if i == 0 else 1 if i == 2 else d.get_length() for i, d in enumerate(dims)]
        else:
            shapes[name] = [1, 17] if name == "attention_mask" else [1, 16]
    del model
    topk = tmp_path / "top10"
    proc = run_cli("convert", "-m", plain, "-o", topk, "--last-token", "--topk", "10", "--softmax", "--no-cache")
    assert proc.returncode == 0, proc.stderr[-2000:]
    plain_sizes = ir_output_bytes(plain / "openvino_model.xml", shapes)
    top_sizes = ir_output_bytes(topk / "model" / "openvino_model.xml", shapes)
    run = benchmark_pair(plain, topk / "model", tmp_path / "bench", shapes, 4)
    base, cand = check_side_by_side(run, ("plain", "top10"), (plain_sizes, top_sizes))
    assert cand["output_bytes"] < base["output_bytes"]
    # the logits [1, 16, vocab] are replaced by 10 values and 10 ids; the present.* KV outputs are unchanged
    assert "logits" in plain_sizes and "logits" not in top_sizes
    assert {k: v for k, v in top_sizes.items() if "topk" not in k} == {k: v for k, v in plain_sizes.items()
                                                                        if k != "logits"}  # fmt: skip
    assert base["output_bytes"] - cand["output_bytes"] == plain_sizes["logits"] - (
        top_sizes["logits_topk_values"] + top_sizes["logits_topk_indices"])
