"""The distillation loss and the Trainer plumbing (checkpoints, resume, best model) on a tiny random BERT."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from ovtool.recipe.sections.distill import TrainingSettings
from ovtool.training.trainer import DistillLoss, _trainer_class, train
from tests.training.test_structured_unit import batch, tiny_bert


def _dataset(n: int = 32):
    from datasets import Dataset

    gen = torch.Generator().manual_seed(2)
    ids = torch.randint(1, 100, (n, 12), generator=gen)
    labels = (ids[:, 0] % 3).tolist()  # learnable from the first token
    return Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": [[1] * 12] * n, "labels": labels}
                             ).with_format("torch")  # fmt: skip


def _loss(student, teacher, tmp_path: Path, **kw) -> float:
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    trainer = _trainer_class()(model=student, args=args, distill=DistillLoss(teacher=teacher, **kw))
    student.eval()
    with torch.no_grad():
        return float(trainer.compute_loss(student, batch()))


def test_distillation_loss_terms(tmp_path: Path) -> None:
    student = tiny_bert(0)
    with torch.no_grad():
        task = float(student(**batch()).loss)
    same = copy.deepcopy(student)
    assert abs(_loss(student, same, tmp_path, alpha=1.0, temperature=3.0)) < 1e-6  # KL(p‖p) = 0
    assert abs(_loss(student, same, tmp_path, alpha=0.0) - task) < 1e-6  # task loss only
    other = tiny_bert(1)
    kl = _loss(student, other, tmp_path, alpha=1.0, temperature=2.0)
    mixed = _loss(student, other, tmp_path, alpha=0.9, temperature=2.0)
    assert kl > 0 and abs(mixed - (0.1 * task + 0.9 * kl)) < 1e-5
    hidden = _loss(student, other, tmp_path, alpha=1.0, temperature=2.0, hidden_weight=1.0, layer_map=[0, 1, 2])
    assert hidden > kl  # the hidden-state MSE adds to the KL term


@pytest.mark.slow
def test_checkpoints_resume_and_best_model(tmp_path: Path) -> None:
    ds = _dataset()
    settings = TrainingSettings(max_steps=4, batch_size=8, eval_steps=2, learning_rate=1e-3,
                                checkpoint_dir=str(tmp_path))  # fmt: skip
    first = train(tiny_bert(), ds, ds, settings, tmp_path / "run", 0, DistillLoss())
    assert first.steps == 4 and first.resumed_from is None
    assert [h["step"] for h in first.eval_history] == [2, 4]
    assert first.best_eval_accuracy == max(h["eval_accuracy"] for h in first.eval_history)
    assert any(p.name.startswith("checkpoint-") for p in (tmp_path / "run").iterdir())
    resumed_settings = settings.model_copy(update={"max_steps": 6, "resume": True})
    second = train(tiny_bert(), ds, ds, resumed_settings, tmp_path / "run", 0, DistillLoss())
    assert second.resumed_from is not None and second.resumed_from.endswith("checkpoint-4")
    assert second.steps == 6 and [h["step"] for h in second.eval_history][-1] == 6


@pytest.mark.slow
def test_regularization_masks_learn_sparsity_with_their_own_learning_rate(tmp_path: Path) -> None:
    from ovtool.training.unstructured import regularization_loss, sparsify, statistics

    ds = _dataset()
    model = sparsify(tiny_bert(), "regularization", 0.5, {k: v for k, v in batch().items() if k != "labels"})
    settings = TrainingSettings(max_steps=60, batch_size=8, eval_steps=60, warmup_ratio=0.0)
    loss = regularization_loss(model, 0.5)
    train(model, ds, ds, settings, tmp_path / "rb", 0, DistillLoss(), extra_loss=loss, mask_lr=0.5, select_best=False)
    prunable, _, rows = statistics(model)
    assert prunable > 0.2, rows  # at the weights' learning rate (5e-5) the mask logits would not move
