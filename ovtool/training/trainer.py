"""The Hugging Face Trainer with a distillation loss: (1-alpha)·task + alpha·T²·KL(teacher‖student) [+ hidden MSE].

Built on `transformers.Trainer` so several processes train data-parallel through its own DDP (the
processes and the process group: ovtool/training/distributed.py); progress bars, checkpoints, resume
and early stopping are the Trainer's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool.recipe.sections.distill import TrainingSettings


@dataclass
class DistillLoss:
    """Teacher and weights of the distillation loss; `teacher=None` trains on the task loss only."""

    teacher: Any = None
    temperature: float = 3.0
    alpha: float = 0.9
    hidden_weight: float = 0.0
    layer_map: list[int] = field(default_factory=list)  # student layer i ↔ teacher layer layer_map[i]


@dataclass
class TrainOutcome:
    steps: int
    epochs: float
    train_loss: float | None
    best_eval_accuracy: float | None
    eval_history: list[dict[str, float]]
    resumed_from: str | None
    stopped_early: bool
    ranks: list[dict[str, Any]] | None = None  # per-rank training throughput (several processes only)


def _trainer_class() -> type:
    import torch
    import torch.nn.functional as F
    from transformers import Trainer

    class DistillationTrainer(Trainer):
        """Trainer whose loss adds the teacher's softened logits (and optionally hidden states)."""

        def __init__(
            self, *args: Any, distill: DistillLoss, extra_loss: Any = None, mask_lr: float | None = None, **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self.distill = distill
            self.extra_loss = extra_loss
            self.mask_lr = mask_lr
            if distill.teacher is not None:
                distill.teacher.to(self.args.device).eval()

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:  # fmt: skip
            d = self.distill
            want_hidden = d.teacher is not None and d.hidden_weight > 0
            outputs = model(**inputs, output_hidden_states=want_hidden)
            loss = outputs.loss
            if d.teacher is not None:
                with torch.no_grad():
                    teacher_out = d.teacher(**{k: v for k, v in inputs.items() if k != "labels"},
                                            output_hidden_states=want_hidden)  # fmt: skip
                t = d.temperature
                kl = F.kl_div(
                    F.log_softmax(outputs.logits / t, dim=-1),
                    F.softmax(teacher_out.logits / t, dim=-1),
                    reduction="batchmean",
                ) * (t * t)
                loss = (1 - d.alpha) * loss + d.alpha * kl
                if want_hidden:
                    pairs = [(outputs.hidden_states[i + 1], teacher_out.hidden_states[j + 1])
                             for i, j in enumerate(d.layer_map)]  # fmt: skip
                    loss = loss + d.hidden_weight * sum(F.mse_loss(s, h) for s, h in pairs) / len(pairs)
            if self.extra_loss is not None and model.training:
                loss = loss + self.extra_loss()
            return (loss, outputs) if return_outputs else loss

        def create_optimizer(self, model: Any = None) -> Any:
            """The Trainer's AdamW, with NNCF's learnable pruning-mask logits in their own group at `mask_lr`.

            RB masks start at logit(0.99) ≈ 4.6 and must cross 0 to prune: at a weight learning rate
            (~5e-5) that takes ~10^5 steps, so they get a learning rate of their own.
            """
            optimizer = super().create_optimizer(model)
            if not self.mask_lr:
                return optimizer
            named = (model or self.model).named_parameters()
            masks = {id(p): p for n, p in named if "__nncf_hooks" in n and n.endswith(".mask") and p.requires_grad}
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in masks]
            optimizer.add_param_group({"params": list(masks.values()), "lr": self.mask_lr, "weight_decay": 0.0})
            return optimizer

        def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
            """Checkpoints as a plain torch state dict: NNCF's quantizer hooks share scale tensors,
            which safetensors refuses; the Trainer's resume and best-model loading read this file too."""
            import os

            from transformers.trainer import TRAINING_ARGS_NAME
            from transformers.utils import WEIGHTS_NAME

            folder = output_dir or self.args.output_dir
            os.makedirs(folder, exist_ok=True)
            torch.save(state_dict if state_dict is not None else self.model.state_dict(),
                       os.path.join(folder, WEIGHTS_NAME))  # fmt: skip
            torch.save(self.args, os.path.join(folder, TRAINING_ARGS_NAME))

    return DistillationTrainer


def _accuracy(eval_pred: Any) -> dict[str, float]:
    import numpy as np

    logits, labels = eval_pred
    logits = logits[0] if isinstance(logits, tuple) else logits
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def train(
    model: Any,
    train_ds: Any,
    eval_ds: Any,
    settings: TrainingSettings,
    run_dir: Path,
    seed: int,
    distill: DistillLoss,
    *,
    epochs_share: float = 1.0,
    extra_loss: Any = None,
    mask_lr: float | None = None,
    callbacks: list[Any] | None = None,
    select_best: bool = True,
) -> TrainOutcome:
    """Fine-tune `model` in place; the best validation checkpoint is loaded at the end.

    `epochs_share` scales the schedule (iterative pruning splits one budget over several phases).
    `select_best=False` keeps the last state (learnt sparsity masks: the most accurate checkpoint
    is the least sparse one).
    """
    from transformers import EarlyStoppingCallback, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    from ovtool.training import distributed

    # one optimizer step consumes batch_size samples on every process: an epoch is len / (batch x world)
    per_epoch = max(1, -(-len(train_ds) // (settings.batch_size * distributed.world_size())))
    total = settings.max_steps or max(1, round(per_epoch * settings.epochs))
    steps = max(1, round(total * epochs_share))
    every = settings.eval_steps or per_epoch
    every = min(every, steps)
    args = TrainingArguments(
        output_dir=str(run_dir),
        max_steps=steps,
        learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.eval_batch_size,
        warmup_steps=settings.warmup_ratio,
        weight_decay=settings.weight_decay,
        eval_strategy="steps",
        eval_steps=every,
        save_strategy="steps",
        save_steps=every,
        save_total_limit=2,
        load_best_model_at_end=select_best,
        metric_for_best_model="accuracy",
        greater_is_better=True,
        logging_steps=max(1, min(50, every)),
        seed=seed,
        data_seed=seed,
        report_to="none",
        dataloader_num_workers=0,
        use_cpu=not _has_accelerator(),
        ddp_find_unused_parameters=False,  # every parameter takes part (the teacher is not in the module)
    )
    cbs = list(callbacks or []) + distributed.fault_callbacks()
    if settings.early_stopping_patience:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience))
    trainer = _trainer_class()(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
        compute_metrics=_accuracy, callbacks=cbs, distill=distill, extra_loss=extra_loss, mask_lr=mask_lr,
    )  # fmt: skip
    resume = get_last_checkpoint(str(run_dir)) if settings.resume and run_dir.exists() else None
    result = trainer.train(resume_from_checkpoint=resume)
    first = int(Path(resume).name.rpartition("-")[2]) if resume else 0  # checkpoint-N: N steps were done before
    ranks = distributed.rank_throughput(trainer.state.global_step - first, settings.batch_size,
                                        float(result.metrics.get("train_runtime", 0.0)))  # fmt: skip
    history = [
        {"step": e["step"], "eval_accuracy": e["eval_accuracy"], "eval_loss": e.get("eval_loss")}
        for e in trainer.state.log_history if "eval_accuracy" in e
    ]  # fmt: skip
    return TrainOutcome(
        steps=trainer.state.global_step,
        epochs=round(float(trainer.state.epoch or 0), 3),
        train_loss=float(result.training_loss) if result.training_loss is not None else None,
        best_eval_accuracy=trainer.state.best_metric,
        eval_history=history,
        resumed_from=resume,
        stopped_early=trainer.state.global_step < steps,
        ranks=ranks,
    )


def _has_accelerator() -> bool:
    import torch

    return bool(torch.cuda.is_available())
