"""The real flows on the real teacher (MiniLM-L6 fine-tuned on BBC News) with short schedules.

Full-length runs and the speed targets live in scripts/bench_training.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import BBC_DIR, MINILM_BBC_DIR, run_cli

# Short schedules on a small subset; one thread per process keeps torch usable on a shared 2-core box.
ENV = {"OMP_NUM_THREADS": "1"}
SHORT = ["--set", "prune.max_length=64", "--set", "prune.eval_samples=60", "--set", "prune.speed_seconds=1"]


def _stage(out: Path) -> dict:
    data = json.loads((out / "run.json").read_text())
    assert data["status"] == "ok"
    return data["stages"][0]


def _ov_classify(model_dir: Path, text: str) -> str:
    from optimum.intel import OVModelForSequenceClassification
    from transformers import AutoTokenizer

    model = OVModelForSequenceClassification.from_pretrained(str(model_dir), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    logits = model(**tokenizer([text], return_tensors="pt")).logits
    return model.config.id2label[int(logits.argmax(-1)[0])]


@pytest.mark.slow
def test_structured_prune_removes_heads_and_neurons(tmp_path: Path, assets: Path) -> None:
    out = tmp_path / "pruned"
    proc = run_cli(
        "prune", "-m", MINILM_BBC_DIR, "--data", BBC_DIR, "--heads-ratio", "0.4", "--ffn-ratio", "0.4", "-o", out,
        *SHORT, "--set", "prune.structured.importance_samples=64", env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    stage = _stage(out)
    m = stage["metrics"]
    assert m["heads_pruned"]["value"] >= 40 and m["ffn_pruned"]["value"] >= 40
    assert m["ir_size_mb"]["value"] < m["original_ir_size_mb"]["value"]
    assert m["parameters"]["value"] < m["original_parameters"]["value"]
    # gradient importance keeps what matters: far above chance (20%) without any recovery training
    assert m["accuracy"]["value"] >= 60, m["accuracy"]
    per_layer = next(t for t in stage["tables"] if t["title"] == "Per layer")
    assert sum(r[1] for r in per_layer["rows"]) == sum(stage["details"]["structure"]["heads"])
    assert sum(r[1] + r[2] for r in per_layer["rows"]) == 72  # MiniLM-L6: 6 layers x 12 heads
    assert "data:image/png;base64" in (out / "report.html").read_text()
    assert _ov_classify(out / "model", "The football club won the league after a late goal.") == "sports"
    assert (out / "torch" / "ovtool_structure.json").exists()


@pytest.mark.slow
def test_jpqd_distills_prunes_and_quantizes_to_int8(tmp_path: Path, assets: Path) -> None:
    import openvino as ov

    out = tmp_path / "jpqd"
    proc = run_cli(
        "distill", "-m", MINILM_BBC_DIR, "--data", BBC_DIR, "--student-layers", "3", "-o", out,
        "--set", "distill.structured={heads_ratio: 0.5, ffn_ratio: 0.5, importance_samples: 32}",
        "--set", "distill.qat={calibration_samples: 8}",
        "--set", "distill.training={max_steps: 4, batch_size: 8, train_samples: 64, eval_samples: 40, "
                 "max_length: 64, eval_steps: 2}",
        "--set", "distill.speed_seconds=1", env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    stage = _stage(out)
    m, d = stage["metrics"], stage["details"]
    assert d["mode"] == "jpqd" and d["heads_pruned_share"] >= 0.5 - 1e-9
    assert len(d["structure"]["heads"]) == 3
    assert m["compression_rate"]["value"] > 3  # half the layers, half their width, int8 weights
    assert {"accuracy", "teacher_accuracy", "speedup", "accuracy_drop"} <= set(m)
    assert stage["gate_values"]["accuracy_drop"] == m["accuracy_drop"]["value"]
    assert d["training"][0]["steps"] == 4
    ops = ov.Core().read_model(str(out / "model" / "openvino_model.xml")).get_ops()
    assert sum(op.get_type_name() == "FakeQuantize" for op in ops) >= 10
    assert any(op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.i8 for op in ops)
    assert _ov_classify(out / "model", "Shares fell as the bank reported lower profits.") in d["data"]["labels"]


@pytest.mark.slow
def test_magnitude_sparsity_reports_zeros_and_no_speedup(tmp_path: Path, assets: Path) -> None:
    out = tmp_path / "sparse"
    proc = run_cli(
        "prune", "-m", MINILM_BBC_DIR, "--data", BBC_DIR, "--method", "magnitude_global", "--sparsity", "0.5",
        "-o", out, *SHORT, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "does not make the IR faster" in proc.stderr
    m = _stage(out)["metrics"]
    assert abs(m["sparsity"]["value"] - 50) < 1
    # the zeros survive export: the IR holds as many zero weights as the torch model (embeddings stay dense)
    assert abs(m["ir_weight_zeros"]["value"] - m["sparsity_all_parameters"]["value"]) < 2
    assert 10 < m["ir_weight_zeros"]["value"] < 50
