"""`distill:` — teacher → student distillation, and JPQD (distillation + structured pruning + QAT).

`TrainingSettings` and `StructuredSpec` live here because `prune:` shares them (recovery fine-tuning
and the structured plan).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ovtool.recipe.sections.base import Section, StageSection
from ovtool.recipe.sections.data import DataSpec


class TrainingSettings(Section):
    """One fine-tuning run through the Hugging Face Trainer (so `accelerate launch` can scale it out)."""

    epochs: float = Field(default=1.0, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(
        default=None, gt=0, description="Stop after this many optimizer steps (wins over epochs)."
    )
    learning_rate: float = Field(default=5e-5, gt=0, description="Peak learning rate (AdamW, linear decay).")
    batch_size: int = Field(
        default=16, gt=0, description="Training batch size per process (effective: x processes)."
    )
    eval_batch_size: int = Field(default=32, gt=0, description="Evaluation batch size.")
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1, description="Share of steps with a linear warm-up.")
    weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay.")
    max_length: int = Field(default=128, gt=0, le=4096, description="Tokens per sample (truncated/padded).")
    train_samples: int | None = Field(default=None, gt=0, description="Use only this many training samples.")
    eval_samples: int | None = Field(
        default=None, gt=0, description="Use only this many validation/test samples (each)."
    )
    eval_steps: int | None = Field(
        default=None, gt=0, description="Evaluate (and checkpoint) every N steps; default: once per epoch."
    )
    early_stopping_patience: int | None = Field(
        default=None, gt=0, description="Stop when validation accuracy has not improved for N evaluations."
    )
    checkpoint_dir: str | None = Field(
        default=None,
        description="Keep checkpoints here (outside OUT, so a failed run can resume); default: a temporary folder.",
    )
    resume: bool = Field(default=False, description="Resume from the last checkpoint in checkpoint_dir.")

    @model_validator(mode="after")
    def _check(self) -> TrainingSettings:
        if self.resume and not self.checkpoint_dir:
            raise ValueError("resume: true needs checkpoint_dir (where the checkpoints of the earlier run are)")
        return self


class LayerPlan(Section):
    """How many heads and FFN neurons one encoder layer keeps."""

    heads: int | None = Field(default=None, ge=1, description="Attention heads to keep (>= 1).")
    ffn: int | None = Field(default=None, ge=1, description="FFN (intermediate) neurons to keep (>= 1).")


class StructuredSpec(Section):
    """Structured pruning of an encoder transformer: whole heads and FFN neurons are removed."""

    heads_ratio: float = Field(default=0.0, ge=0, lt=1, description="Share of all attention heads to remove.")
    ffn_ratio: float = Field(default=0.0, ge=0, lt=1, description="Share of all FFN neurons to remove.")
    plan: dict[int, LayerPlan] | None = Field(
        default=None,
        description="Per-layer keep counts, keyed by layer index; the ratios then apply to the other layers.",
    )
    importance_samples: int = Field(
        default=256, gt=0, description="Training samples used to measure gradient importance."
    )
    global_ranking: bool = Field(
        default=True, description="Rank heads/neurons across all layers (true) or remove the ratio from each layer."
    )
    iterations: int = Field(
        default=1,
        ge=1,
        le=10,
        description="Prune in this many equal steps, each followed by a share of the distillation training.",
    )

    @model_validator(mode="after")
    def _check(self) -> StructuredSpec:
        if self.heads_ratio == 0 and self.ffn_ratio == 0 and not self.plan:
            raise ValueError("nothing to prune: set heads_ratio, ffn_ratio or plan")
        return self


class StudentSpec(Section):
    """Where the student comes from: a folder, or derived from the teacher."""

    path: str | None = Field(default=None, description="A Hugging Face folder holding the student.")
    layers: int | None = Field(
        default=None, gt=0, description="Derive: keep this many teacher layers, evenly spaced (every k-th)."
    )
    layer_ids: list[int] | None = Field(default=None, description="Derive: keep exactly these teacher layers.")

    @model_validator(mode="after")
    def _check(self) -> StudentSpec:
        given = [n for n in ("path", "layers", "layer_ids") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of path, layers, layer_ids (got {', '.join(given)})")
        if self.layer_ids is not None and (not self.layer_ids or min(self.layer_ids) < 0):
            raise ValueError("layer_ids must be a non-empty list of layer indexes (>= 0)")
        return self


class QatSpec(Section):
    """Quantization-aware training with NNCF: quantize the torch model, train, export INT8."""

    calibration_samples: int = Field(default=300, gt=0, description="Samples for the initial ranges.")
    preset: Literal["mixed", "performance"] = Field(
        default="mixed", description="NNCF preset: mixed (asymmetric activations) or performance."
    )


class DistributedSpec(Section):
    """Data-parallel training on several processes (torch.distributed, gloo on CPU, nccl on GPUs).

    With `launcher`, ovtool starts the processes itself and keeps owning OUT; without it, ovtool reads
    the ranks from the environment when you start it under `torchrun` / `accelerate launch` yourself.
    `training.batch_size` is per process: the effective batch is batch_size x processes.
    """

    launcher: Literal["torchrun", "accelerate"] | None = Field(
        default=None,
        description="ovtool starts `nproc` training processes on this node with torchrun or accelerate launch; "
        "leave it out when you start ovtool under a launcher yourself.",
    )
    nproc: int | None = Field(default=None, gt=0, description="Training processes on this node (with launcher).")
    nnodes: int | None = Field(default=None, gt=0, description="Machines taking part (default 1).")
    node_rank: int | None = Field(default=None, ge=0, description="This machine's index, 0..nnodes-1.")
    master_addr: str | None = Field(default=None, description="Address of node 0 (the rendezvous; nnodes > 1).")
    master_port: int | None = Field(default=None, gt=0, lt=65536, description="Rendezvous port on node 0.")
    backend: Literal["gloo", "nccl"] | None = Field(
        default=None, description="torch.distributed backend; default nccl with CUDA, else gloo."
    )
    timeout: float = Field(
        default=120.0, gt=0, description="Seconds a collective waits for a peer that does not answer."
    )

    @model_validator(mode="after")
    def _check(self) -> DistributedSpec:
        if self.launcher is None:
            given = [n for n in ("nproc", "nnodes", "node_rank", "master_addr", "master_port")
                     if getattr(self, n) is not None]  # fmt: skip
            if given:
                raise ValueError(f"{', '.join(given)}: only with launcher (torchrun or accelerate)")
            return self
        if self.nproc is None:
            raise ValueError("launcher needs nproc (training processes on this node)")
        if self.node_rank is not None and self.nnodes is None:
            raise ValueError("node_rank needs nnodes (how many machines take part)")
        nodes = self.nnodes or 1
        if self.node_rank is not None and self.node_rank >= nodes:
            raise ValueError(f"node_rank {self.node_rank} is out of range for nnodes {nodes} (0..{nodes - 1})")
        if nodes > 1 and (self.master_addr is None or self.node_rank is None):
            raise ValueError("nnodes > 1 needs master_addr (node 0's address) and node_rank on every machine")
        return self


class DistillSection(StageSection):
    """Distil the model (the teacher) into a student; with structured+qat this is JPQD."""

    data: DataSpec | None = Field(default=None, description="Labeled text (folder per label, jsonl, csv).")
    student: StudentSpec = Field(
        default_factory=StudentSpec, description="Where the student comes from; default: a copy of the teacher."
    )
    temperature: float = Field(default=3.0, gt=0, description="Softmax temperature of the KL term.")
    alpha: float = Field(default=0.9, ge=0, le=1, description="Weight of the KL term; the task loss gets 1 - alpha.")
    hidden_weight: float = Field(
        default=0.0, ge=0, description="Weight of an MSE loss between matched hidden states (same width only)."
    )
    structured: StructuredSpec | None = Field(default=None, description="Prune heads/FFN neurons of the student.")
    qat: QatSpec | None = Field(default=None, description="Quantization-aware training → INT8 IR.")
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    distributed: DistributedSpec | None = Field(
        default=None, description="Train on several processes / machines (data-parallel)."
    )
    measure_speed: bool = Field(default=True, description="Measure teacher vs student IR throughput side by side.")
    speed_seconds: float = Field(default=5.0, gt=0, description="Seconds of throughput measurement per IR.")

    @model_validator(mode="after")
    def _check(self) -> DistillSection:
        if self.data is None:
            raise ValueError("data is required: labeled text (data.path: folder per label, .jsonl or .csv)")
        if self.data.kind != "text" or self.data.synthetic:
            raise ValueError("distill needs real labeled text data (kind: text, not synthetic)")
        return self
