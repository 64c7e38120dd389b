"""`ovtool prune`: structured (heads/FFN neurons removed) or unstructured (NNCF) pruning → IR."""

from __future__ import annotations

from ovtool.cli.build import command, examples
from ovtool.cli.flags import STAGE, Flag, distributed, labeled_data

FLAGS = (
    *STAGE,
    Flag("--method", "prune.method", choices=("structured", "magnitude_local", "magnitude_global", "regularization"),
         help="Structured (heads/FFN neurons) or unstructured (NNCF) pruning."),
    labeled_data("prune"),
    Flag("--heads-ratio", "prune.structured.heads_ratio", type=float, help="Share of heads to remove."),
    Flag("--ffn-ratio", "prune.structured.ffn_ratio", type=float, help="Share of FFN neurons to remove."),
    Flag("--sparsity", "prune.sparsity", type=float, help="Target share of zero weights (unstructured)."),
    *distributed("prune"),
)  # fmt: skip

EXAMPLES = examples("""
    # remove half the heads and FFN neurons of a BBC classifier
    prune recipes/minilm-bbc-prune.yaml
    # 50% unstructured sparsity, one recovery epoch
    prune recipes/minilm-bbc-prune-magnitude.yaml
    # structured pruning from flags alone
    prune -m .assets/minilm-bbc -o runs/minilm-heads --data .assets/bbcnews/data --heads-ratio 0.25
""")

prune = command("prune", FLAGS, examples=EXAMPLES)
