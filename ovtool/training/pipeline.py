"""Pieces the prune and distill stages share: data in, training phases, IR export and side-by-side measurement."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool.context import StageContext
from ovtool.errors import UserError
from ovtool.recipe.sections.data import DataSpec
from ovtool.results import Metric
from ovtool.training import data as tdata
from ovtool.training.evaluate import ThroughputProbe, compare_throughput, ir_accuracy, ir_size_bytes


@dataclass
class Prepared:
    """The tokenizer, label names and the three splits, tokenized where training needs them."""

    tokenizer: Any
    splits: tdata.LabeledSplits
    train_ds: Any
    eval_ds: Any
    test_texts: list[str]
    test_labels: list[int]
    max_length: int
    sizes: dict[str, int] = field(default_factory=dict)


def prepare(source: Path, model: Any, spec: DataSpec, max_length: int, train_samples: int | None,
            eval_samples: int | None, seed: int) -> Prepared:  # fmt: skip
    """Load the canonical splits, check the labels against the model's head, tokenize."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    id2label = {int(k): v for k, v in (model.config.id2label or {}).items()}
    splits = tdata.load_splits(spec, id2label)
    if len(splits.label_names) != model.config.num_labels:
        raise UserError(
            f"{source} has a {model.config.num_labels}-class head, the data has {len(splits.label_names)} "
            f"labels ({', '.join(splits.label_names)}): give a model fine-tuned on this task"
        )
    train = tdata.subsample(splits.texts["train"], splits.labels["train"], train_samples, seed)
    val = tdata.subsample(splits.texts["validation"], splits.labels["validation"], eval_samples, seed)
    test = tdata.subsample(splits.texts["test"], splits.labels["test"], eval_samples, seed)
    if not train[0] or not val[0] or not test[0]:
        raise UserError(f"{spec.path}: too few samples for train/validation/test splits (0.8/0.1/0.1)")
    return Prepared(
        tokenizer=tokenizer, splits=splits,
        train_ds=tdata.tokenized_dataset(tokenizer, *train, max_length),
        eval_ds=tdata.tokenized_dataset(tokenizer, *val, max_length),
        test_texts=test[0], test_labels=test[1], max_length=max_length,
        sizes={"train": len(train[0]), "validation": len(val[0]), "test": len(test[0])},
    )  # fmt: skip


def importance_batches(prep: Prepared, count: int, batch_size: int = 16) -> list[dict[str, Any]]:
    n = min(count, len(prep.train_ds))
    return tdata.batches(prep.train_ds.select(range(n)), batch_size)


@dataclass
class Comparison:
    """The reference (unpruned / teacher) IR and the result IR, measured side by side in this run."""

    metrics: dict[str, Metric]
    gate_values: dict[str, float]
    rows: list[list[Any]]
    details: dict[str, Any]


def compare(ctx: StageContext, reference_model: Any, prep: Prepared, result_xml: Path, *, measure_speed: bool,
            seconds: float, reference_name: str) -> Comparison:  # fmt: skip
    """Export the reference torch model to a scratch IR, then accuracy (f32) and throughput of both IRs."""
    from ovtool.training.export import export_classifier

    scratch = ctx.work_dir / ".reference-ir"
    try:
        with ctx.step(f"export the {reference_name} to IR (for comparison)"):
            ref_xml = export_classifier(reference_model, prep.tokenizer, scratch, prep.splits.label_names)
        with ctx.step(f"accuracy of both IRs on {len(prep.test_texts)} held-out test samples (f32)"):
            ref_acc = ir_accuracy(ref_xml, prep.tokenizer, prep.test_texts, prep.test_labels, prep.max_length)
            acc = ir_accuracy(result_xml, prep.tokenizer, prep.test_texts, prep.test_labels, prep.max_length)
        ref_size, size = ir_size_bytes(ref_xml), ir_size_bytes(result_xml)
        speeds = None
        if measure_speed:
            with ctx.step(f"throughput of both IRs at sequence {prep.max_length}"):
                probes = [ThroughputProbe(xml, prep.tokenizer, prep.test_texts[0], prep.max_length)
                          for xml in (ref_xml, result_xml)]  # fmt: skip
                speeds = compare_throughput(probes, seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    drop = round((ref_acc - acc) * 100, 2)
    metrics = {
        "accuracy": Metric(round(acc * 100, 2), "%", "result IR on the held-out test split (f32)"),
        f"{reference_name}_accuracy": Metric(round(ref_acc * 100, 2), "%", f"{reference_name} IR, same samples"),
        "accuracy_drop": Metric(drop, "points", f"{reference_name} accuracy minus result accuracy"),
        "ir_size_mb": Metric(round(size / 2**20, 2), "MiB", "result openvino_model.xml + .bin"),
        f"{reference_name}_ir_size_mb": Metric(round(ref_size / 2**20, 2), "MiB", f"{reference_name} IR"),
        "compression_rate": Metric(round(ref_size / size, 2), "x", f"{reference_name} IR size / result IR size"),
    }
    gates = {"accuracy_drop": drop}
    rows = [[reference_name, round(ref_acc * 100, 2), round(ref_size / 2**20, 2)],
            ["result", round(acc * 100, 2), round(size / 2**20, 2)]]  # fmt: skip
    details: dict[str, Any] = {"test_samples": len(prep.test_texts), "max_length": prep.max_length}
    if speeds is not None:
        ref_speed, speed = speeds
        ratio = round(speed.throughput / ref_speed.throughput, 3)
        metrics |= {
            "throughput": Metric(round(speed.throughput, 1), "inferences/s", f"batch 1, sequence {prep.max_length}"),
            f"{reference_name}_throughput": Metric(round(ref_speed.throughput, 1), "inferences/s", "same settings"),
            "speedup": Metric(ratio, "x", f"result / {reference_name} throughput, measured side by side"),
        }
        gates |= {"speedup": ratio, "throughput": round(speed.throughput, 1)}
        rows[0].append(round(ref_speed.throughput, 1))
        rows[1].append(round(speed.throughput, 1))
        details["speed"] = {"precision": speed.precision, "reference_precision": ref_speed.precision,
                            "requests": speed.requests, "seconds_per_model": seconds,
                            "hint": "PERFORMANCE_HINT=THROUGHPUT, batch 1; 3 interleaved rounds, median"}  # fmt: skip
    return Comparison(metrics, gates, rows, details)


def comparison_columns(measured_speed: bool) -> list[str]:
    cols = ["model", "test accuracy (%)", "IR size (MiB)"]
    return cols + (["throughput (inf/s)"] if measured_speed else [])
