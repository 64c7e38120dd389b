"""JPQD-style results on BBC News, measured side by side in one run.

Runs the shipped recipes through the real CLI (teacher: the fine-tuned MiniLM-L6 at .assets/minilm-bbc):

    recipes/minilm-bbc-distill.yaml   3-layer distilled student
    recipes/minilm-bbc-prune.yaml     structured pruning (50% heads, 50% FFN neurons) + distilled recovery
    recipes/minilm-bbc-jpqd.yaml      3-layer student, pruned + QAT INT8 + distilled (JPQD)

then measures the teacher IR and the three result IRs in this one process: accuracy on the whole
held-out test split of the canonical BBC split (INFERENCE_PRECISION_HINT=f32), and throughput at
sequence 128 (batch 1, PERFORMANCE_HINT=THROUGHPUT, async queue, plugin-default precision, reported),
interleaved over --rounds rounds so machine load hits every model alike. Targets (issue 7): accuracy
within 2 points of the teacher; throughput >= 1.7x (distilled), >= 1.3x (pruned), >= 2.5x (JPQD).

    python scripts/bench_training.py --torch-threads 1     # train the recipes (1 epoch each), then measure
    python scripts/bench_training.py --skip-train          # re-measure the runs already in --work
    python scripts/bench_training.py --only jpqd-int8      # train one recipe, measure whatever exists
Results (JSON) go to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEACHER = ROOT / ".assets" / "minilm-bbc"
BBC = ROOT / ".assets" / "bbcnews" / "data"
RUNS = {
    "distilled-3-layer": ("distill", "recipes/minilm-bbc-distill.yaml", 1.7),
    "pruned-structured": ("prune", "recipes/minilm-bbc-prune.yaml", 1.3),
    "jpqd-int8": ("distill", "recipes/minilm-bbc-jpqd.yaml", 2.5),
}
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[bench_training] {message}", file=sys.stderr, flush=True)


def run_recipe(command: str, recipe: str, out: Path, sets: list[str], threads: int | None) -> float:
    """Run one recipe through the real CLI; returns its wall time."""
    exe = Path(sys.executable).with_name("ovtool")
    cmd = [str(exe), command, str(ROOT / recipe), "-o", str(out), "--overwrite", "-q",
           *[x for s in sets for x in ("--set", s)]]  # fmt: skip
    log(" ".join(cmd))
    start = time.perf_counter()
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    proc = subprocess.run(cmd, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, env=env)
    if proc.returncode not in (0, 3):  # 3: a gate of the recipe was not met; still measured here
        raise SystemExit(f"{recipe} failed with exit code {proc.returncode}")
    return time.perf_counter() - start


def export_teacher(out: Path) -> Path:
    from ovtool.training.export import export_classifier
    from ovtool.training.models import load_classifier

    if not (out / "openvino_model.xml").exists():
        from transformers import AutoTokenizer

        model = load_classifier(TEACHER)
        names = [model.config.id2label[i] for i in range(model.config.num_labels)]
        export_classifier(model, AutoTokenizer.from_pretrained(str(TEACHER)), out, names)
    return out / "openvino_model.xml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-training")
    parser.add_argument("--epochs", type=float, default=None, help="Override training epochs of every recipe.")
    parser.add_argument("--skip-train", action="store_true", help="Measure the runs already in --work.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Throughput seconds per model per round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS for the training runs (1 helps a lot on a shared, busy machine).",
    )
    parser.add_argument("--only", nargs="*", choices=list(RUNS), help="Train only these runs.")
    args = parser.parse_args()
    if not (TEACHER / "config.json").exists():
        raise SystemExit("teacher missing: run scripts/finetune_minilm.py first")

    from transformers import AutoTokenizer

    from ovtool.data.text import bbc_splits, label_names, texts_and_labels
    from ovtool.training.evaluate import ThroughputProbe, ir_accuracy, ir_size_bytes

    args.work.mkdir(parents=True, exist_ok=True)
    train_seconds: dict[str, float] = {}
    for name, (command, recipe, _) in RUNS.items():
        if args.skip_train or (args.only and name not in args.only):
            continue
        key = "prune.recovery.training.epochs" if command == "prune" else "distill.training.epochs"
        sets = [f"{key}={args.epochs}"] if args.epochs else []
        train_seconds[name] = round(run_recipe(command, recipe, args.work / name, sets, args.torch_threads), 1)
    models = {"teacher": export_teacher(args.work / "teacher-ir")}
    models |= {name: args.work / name / "model" / "openvino_model.xml" for name in RUNS}
    missing = [name for name, xml in models.items() if not xml.exists()]
    for name in missing:
        log(f"{name}: no IR at {models.pop(name)} (not trained yet): left out")

    test = bbc_splits(BBC)["test"]
    texts, ids = texts_and_labels(test)
    names = label_names(test) or []
    tokenizer = AutoTokenizer.from_pretrained(str(TEACHER))
    results: dict[str, dict[str, float | str]] = {}
    for name, xml in models.items():
        config = json.loads((xml.parent / "config.json").read_text())
        order = {config["id2label"][str(i)]: i for i in range(len(config["id2label"]))}
        labels = [order[names[i]] for i in ids or []]
        acc = ir_accuracy(xml, tokenizer, texts, labels, args.seq)
        results[name] = {"accuracy": round(acc * 100, 2), "ir_mb": round(ir_size_bytes(xml) / 2**20, 2)}
        log(f"{name}: accuracy {acc:.2%}")
    probes = {name: ThroughputProbe(xml, tokenizer, texts[0], args.seq) for name, xml in models.items()}
    speeds: dict[str, list[float]] = {name: [] for name in models}
    for rnd in range(args.rounds):
        for name, probe in probes.items():
            speeds[name].append(probe.run(args.seconds))
            results[name]["precision"] = probe.precision
            log(f"round {rnd + 1}: {name} {speeds[name][-1]:.1f} inf/s ({probe.precision})")
    base = statistics.median(speeds["teacher"])
    teacher_acc = float(results["teacher"]["accuracy"])
    teacher_mb = float(results["teacher"]["ir_mb"])
    for name in models:
        tput = statistics.median(speeds[name])
        results[name] |= {
            "throughput": round(tput, 1),
            "speedup": round(tput / base, 2),
            "accuracy_drop": round(teacher_acc - float(results[name]["accuracy"]), 2),
            "compression_rate": round(teacher_mb / float(results[name]["ir_mb"]), 2),
        }
        if name in RUNS and name != "teacher":
            target = RUNS[name][2]
            ok = results[name]["speedup"] >= target and results[name]["accuracy_drop"] <= 2.0  # type: ignore[operator]
            results[name] |= {"target_speedup": target, "meets_targets": ok}
    report = {"test_samples": len(texts), "sequence": args.seq, "rounds": args.rounds,
              "train_seconds": train_seconds, "epochs_override": args.epochs, "models": results}  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
