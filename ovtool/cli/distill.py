"""`ovtool distill`: teacher → student (HF Trainer), optionally with structured pruning and NNCF QAT (JPQD)."""

from __future__ import annotations

from ovtool.cli.build import command, examples
from ovtool.cli.flags import STAGE, Flag, distributed, labeled_data

FLAGS = (
    *STAGE,
    labeled_data("distill"),
    Flag("--student", "distill.student.path", help="Student HF folder (default: derived)."),
    Flag("--student-layers", "distill.student.layers", type=int, help="Derive the student: keep N teacher layers."),
    Flag("--temperature", "distill.temperature", type=float, help="KL temperature (default 3)."),
    Flag("--alpha", "distill.alpha", type=float, help="Weight of the KL term (default 0.9)."),
    Flag("--epochs", "distill.training.epochs", type=float, help="Training epochs."),
    Flag("--max-steps", "distill.training.max_steps", type=int, help="Stop after N optimizer steps."),
    *distributed("distill"),
)  # fmt: skip

EXAMPLES = examples("""
    # 6-layer BBC classifier → 3-layer student
    distill recipes/minilm-bbc-distill.yaml
    # JPQD: pruning + QAT + distillation → INT8 IR
    distill recipes/minilm-bbc-jpqd.yaml
    # a quick 2-layer student from flags alone
    distill -m .assets/minilm-bbc -o runs/minilm-2l --data .assets/bbcnews/data --student-layers 2 --max-steps \
        20
""")

distill = command("distill", FLAGS, examples=EXAMPLES)
