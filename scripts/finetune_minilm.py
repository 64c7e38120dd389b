"""Fine-tune all-MiniLM-L6-v2 into the BBC News topic classifier at .assets/minilm-bbc/.

No text classifier with a head ships in a registry package, so the project makes its own: the real
MiniLM encoder (.assets/minilm/model) plus a 5-way head, trained for one epoch on the train part of
the canonical BBC split (`ovtool.data.text.bbc_splits`; the test part is never trained on). It is
the teacher for distillation and the baseline for quantization accuracy checks.

    python scripts/finetune_minilm.py                  # skip when .assets/minilm-bbc/metrics.json exists
    python scripts/finetune_minilm.py --force          # train again
    python scripts/finetune_minilm.py --verify-openvino  # also export to OpenVINO IR and compare accuracy

The result is a plain Hugging Face folder (config, safetensors, tokenizer, metrics.json) loadable by
AutoModelForSequenceClassification and by optimum-intel's exporter. It is written into a temporary
folder beside the target and renamed at the end, so an interrupted run leaves nothing half-written.
Progress goes to stderr; the final metrics (JSON) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / ".assets" / "minilm" / "model"
BBC_DIR = ROOT / ".assets" / "bbcnews" / "data"
TARGET = ROOT / ".assets" / "minilm-bbc"

EPOCHS = 1
LEARNING_RATE = 5e-5
BATCH_SIZE = 16
MAX_LENGTH = 128
SEED = 0
THREADS = 2
EVAL_BATCH_SIZE = 64

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _path in (ROOT, ROOT / "scripts"):  # run as a plain script from a checkout, or loaded by path (tests)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the final metrics)."""
    print(f"[finetune_minilm] {message}", file=sys.stderr, flush=True)


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def accuracy_torch(model: Any, tokenizer: Any, texts: list[str], labels: list[int], max_length: int) -> float:
    """Top-1 accuracy of a torch sequence classifier (eval mode, no grad)."""
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(texts), EVAL_BATCH_SIZE):
            enc = tokenizer(texts[start : start + EVAL_BATCH_SIZE], truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt")  # fmt: skip
            predicted = model(**enc).logits.argmax(-1)
            correct += int((predicted == torch.tensor(labels[start : start + EVAL_BATCH_SIZE])).sum())
    return correct / len(texts)


def accuracy_openvino(model: Any, tokenizer: Any, texts: list[str], labels: list[int], max_length: int) -> float:
    """Top-1 accuracy of an optimum-intel OVModelForSequenceClassification."""
    correct = 0
    for start in range(0, len(texts), EVAL_BATCH_SIZE):
        enc = tokenizer(texts[start : start + EVAL_BATCH_SIZE], truncation=True, max_length=max_length,
                        padding=True, return_tensors="np")  # fmt: skip
        predicted = model(**enc).logits.argmax(-1)
        correct += sum(int(p) == y for p, y in zip(predicted, labels[start : start + EVAL_BATCH_SIZE], strict=True))
    return correct / len(texts)


def train(
    source: Path,
    bbc_dir: Path,
    out_dir: Path,
    *,
    epochs: int = EPOCHS,
    lr: float = LEARNING_RATE,
    batch_size: int = BATCH_SIZE,
    max_length: int = MAX_LENGTH,
    seed: int = SEED,
) -> dict[str, Any]:
    """Train the classifier into out_dir (model, tokenizer, metrics.json) and return the metrics."""
    import torch
    import transformers
    from asset_build import display
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    from ovtool.data.text import bbc_splits, label_names, texts_and_labels

    torch.set_num_threads(THREADS)
    transformers.logging.set_verbosity_error()  # the "newly initialized classifier" notice is expected
    splits = bbc_splits(bbc_dir, seed=0)
    names = list(label_names(splits["train"]) or [])
    sizes = {k: len(v) for k, v in splits.items()}
    log(f"BBC split sizes: {sizes}, labels {names}")
    train_texts, train_labels = texts_and_labels(splits["train"])

    random.seed(seed)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        problem_type="single_label_classification", dtype=torch.float32,
    )  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    steps_per_epoch = (len(train_texts) + batch_size - 1) // batch_size
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0,
                                                num_training_steps=steps_per_epoch * epochs)  # fmt: skip
    order_rng = random.Random(seed)

    start = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        model.train()
        order = list(range(len(train_texts)))
        order_rng.shuffle(order)
        running = 0.0
        for batch in _batches(order, batch_size):
            enc = tokenizer([train_texts[i] for i in batch], truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt")  # fmt: skip
            loss = model(**enc, labels=torch.tensor([train_labels[i] for i in batch])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            running += loss.item()
            if step % 10 == 0 or step == steps_per_epoch * epochs:
                elapsed = time.perf_counter() - start
                log(f"epoch {epoch + 1}/{epochs} step {step}/{steps_per_epoch * epochs} "
                    f"loss {running / (step - epoch * steps_per_epoch):.4f} ({elapsed:.0f} s)")  # fmt: skip
    train_time = time.perf_counter() - start

    start = time.perf_counter()
    val_acc = accuracy_torch(model, tokenizer, *texts_and_labels(splits["validation"]), max_length)
    test_acc = accuracy_torch(model, tokenizer, *texts_and_labels(splits["test"]), max_length)
    eval_time = time.perf_counter() - start
    log(f"validation accuracy {val_acc:.4f}, test accuracy {test_acc:.4f} (train {train_time:.0f} s)")

    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    metrics = {
        "model": "all-MiniLM-L6-v2 fine-tuned for BBC News topic classification",
        "source": display(source),
        "data": f"ovtool.data.text.bbc_splits({display(bbc_dir)}, seed=0)",
        "labels": names,
        "split_sizes": {name: len(part) for name, part in splits.items()},
        "test_accuracy": round(test_acc, 6),
        "validation_accuracy": round(val_acc, 6),
        "train_time_s": round(train_time, 1),
        "eval_time_s": round(eval_time, 1),
        "epochs": epochs,
        "learning_rate": lr,
        "batch_size": batch_size,
        "max_length": max_length,
        "seed": seed,
        "torch_threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def verify_openvino(model_dir: Path, bbc_dir: Path, ir_dir: Path, max_length: int = MAX_LENGTH) -> dict[str, Any]:
    """Export model_dir with optimum-intel and measure the IR's test accuracy in f32 (the CPU defaults to bf16)."""
    from optimum.exporters.openvino import main_export
    from optimum.intel import OVModelForSequenceClassification
    from transformers import AutoTokenizer

    from ovtool.data.text import bbc_splits, texts_and_labels

    start = time.perf_counter()
    main_export(model_name_or_path=str(model_dir), output=str(ir_dir), task="text-classification")
    export_time = time.perf_counter() - start
    log(f"exported {model_dir} -> {ir_dir} in {export_time:.0f} s")
    model = OVModelForSequenceClassification.from_pretrained(str(ir_dir), ov_config={"INFERENCE_PRECISION_HINT": "f32"})
    tokenizer = AutoTokenizer.from_pretrained(str(ir_dir))
    test = bbc_splits(bbc_dir, seed=0)["test"]
    start = time.perf_counter()
    acc = accuracy_openvino(model, tokenizer, *texts_and_labels(test), max_length)
    eval_time = time.perf_counter() - start
    reference = json.loads((model_dir / "metrics.json").read_text())["test_accuracy"]
    result = {"openvino_test_accuracy": round(acc, 6), "torch_test_accuracy": reference,
              "difference_pt": round((acc - reference) * 100, 3), "export_time_s": round(export_time, 1),
              "openvino_eval_time_s": round(eval_time, 1), "inference_precision": "f32"}  # fmt: skip
    log(f"OpenVINO f32 test accuracy {acc:.4f} vs torch {reference:.4f}")
    return result


def main(argv: list[str] | None = None) -> int:
    from asset_build import build_once

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="train again even if metrics.json exists")
    parser.add_argument("--source", type=Path, default=SOURCE, help="MiniLM encoder folder")
    parser.add_argument("--data", type=Path, default=BBC_DIR, help="BBC News folder-per-label")
    parser.add_argument("--output", type=Path, default=TARGET, help="where the fine-tuned model goes")
    parser.add_argument("--verify-openvino", action="store_true",
                        help="export the result to OpenVINO IR (temp dir) and check its test accuracy")  # fmt: skip
    args = parser.parse_args(argv)
    target: Path = args.output

    for needed in (args.source / "config.json", args.data):
        if not needed.exists():
            log(f"missing {needed}: run scripts/fetch_assets.py first")
            return 2
    metrics = build_once(target, args.force, lambda tmp_dir: train(args.source, args.data, tmp_dir), log)
    if args.verify_openvino:
        with tempfile.TemporaryDirectory(prefix="minilm-bbc-ir-") as ir_dir:
            metrics = {**metrics, "openvino_check": verify_openvino(target, args.data, Path(ir_dir))}
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
