"""`prune:` — structured (heads / FFN neurons, physically removed) or unstructured (NNCF) pruning."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ovtool.recipe.sections.base import Section, StageSection
from ovtool.recipe.sections.data import DataSpec
from ovtool.recipe.sections.distill import DistributedSpec, StructuredSpec, TrainingSettings

PruneMethod = Literal["structured", "magnitude_local", "magnitude_global", "regularization"]


class RecoverySpec(Section):
    """Fine-tuning after pruning, distilled from the unpruned model."""

    temperature: float = Field(default=3.0, gt=0, description="Softmax temperature of the KL term.")
    alpha: float = Field(default=0.9, ge=0, le=1, description="Weight of the KL term (0: task loss only).")
    mask_learning_rate: float = Field(
        default=0.2, gt=0, description="Learning rate of NNCF's mask logits (method regularization only)."
    )
    training: TrainingSettings = Field(default_factory=TrainingSettings)


class PruneSection(StageSection):
    """Prune the model read from `model:`/-m (a Hugging Face folder, not an IR)."""

    method: PruneMethod = Field(
        default="structured",
        description="structured (heads/FFN neurons removed: smaller, faster IR), or unstructured NNCF "
        "sparsity: magnitude_local, magnitude_global, regularization (zeros only: no dense-CPU speedup).",
    )
    data: DataSpec | None = Field(default=None, description="Labeled text: importance, recovery and evaluation.")
    structured: StructuredSpec | None = Field(default=None, description="What to remove (method: structured).")
    sparsity: float | None = Field(
        default=None, gt=0, lt=1, description="Target share of zero weights (unstructured methods)."
    )
    recovery: RecoverySpec | None = Field(
        default=None,
        description="Recovery fine-tuning (distilled from the unpruned model); required for regularization.",
    )
    distributed: DistributedSpec | None = Field(
        default=None, description="Recovery training on several processes / machines (data-parallel)."
    )
    max_length: int = Field(default=128, gt=0, description="Tokens per sample for importance and evaluation.")
    eval_samples: int | None = Field(default=None, gt=0, description="Evaluate on at most this many test samples.")
    measure_speed: bool = Field(default=True, description="Measure original vs pruned IR throughput side by side.")
    speed_seconds: float = Field(default=5.0, gt=0, description="Seconds of throughput measurement per IR.")

    @model_validator(mode="after")
    def _check(self) -> PruneSection:
        if self.data is None:
            raise ValueError("data is required: labeled text (data.path: folder per label, .jsonl or .csv)")
        if self.data.kind != "text" or self.data.synthetic:
            raise ValueError("prune needs real labeled text data (kind: text, not synthetic)")
        if self.recovery is not None and "max_length" in self.recovery.training.model_fields_set:
            raise ValueError("set prune.max_length (it applies to importance, recovery and evaluation alike)")
        if self.distributed is not None and self.distributed.launcher and self.recovery is None:
            raise ValueError("distributed.launcher: nothing is trained without `recovery:` (add it, or drop launcher)")
        if self.method == "structured":
            if self.structured is None:
                raise ValueError("method structured needs `structured:` (heads_ratio, ffn_ratio or plan)")
            if self.sparsity is not None:
                raise ValueError("sparsity applies to unstructured methods; use structured.heads_ratio/ffn_ratio")
        else:
            if self.structured is not None:
                raise ValueError(f"`structured:` applies to method structured, not {self.method}")
            if self.sparsity is None:
                raise ValueError(f"method {self.method} needs sparsity (the target share of zero weights)")
            if self.method == "regularization" and self.recovery is None:
                raise ValueError("method regularization learns its masks in training: add `recovery:`")
        return self
