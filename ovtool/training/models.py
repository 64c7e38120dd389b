"""Load the PyTorch source model (an HF folder), derive a student from it, and keep pruned shapes loadable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ovtool.errors import UserError
from ovtool.model_files import detect_format

STRUCTURE_FILE = "ovtool_structure.json"


def check_torch_source(source: str, stage: str) -> Path:
    """The HF folder to train from; an IR or any other format is refused (training needs PyTorch weights).

    An IR written by `ovtool prune`/`distill` (OUT/model) stands for the PyTorch model saved beside it
    (OUT/torch), so `ovtool run` can chain prune → distill.
    """
    fmt = detect_format(source)
    twin = Path(source).parent / "torch" if Path(source).is_dir() else Path(source).parent.parent / "torch"
    if fmt == "ir" and (twin / "config.json").exists():
        return check_torch_source(str(twin), stage)  # an IR from ovtool prune/distill: its PyTorch twin
    if fmt == "ir":
        raise UserError(
            f"{stage} needs the PyTorch model (a Hugging Face folder with config.json and weights), "
            f"not an OpenVINO IR: {source}"
        )
    if fmt != "hf" or not Path(source).is_dir():
        raise UserError(f"{stage} needs a local Hugging Face folder (config.json + weights), got {fmt}: {source}")
    config = json.loads((Path(source) / "config.json").read_text())
    if config.get("model_type") not in ENCODERS:
        raise UserError(
            f"{stage} supports BERT-family encoders ({', '.join(sorted(ENCODERS))}); "
            f"{source} is {config.get('model_type')!r}"
        )
    return Path(source)


ENCODERS = {"bert", "roberta", "xlm-roberta", "camembert", "electra"}


def load_classifier(folder: Path, num_labels: int | None = None) -> Any:
    """AutoModelForSequenceClassification from `folder`, re-applying a pruned structure saved by ovtool."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    structure_path = folder / STRUCTURE_FILE
    kwargs: dict[str, Any] = {"num_labels": num_labels} if num_labels else {}
    if not structure_path.exists():
        return AutoModelForSequenceClassification.from_pretrained(str(folder), **kwargs)
    from safetensors.torch import load_file

    from ovtool.training.structured import apply_structure

    config = AutoConfig.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_config(config)
    apply_structure(model, json.loads(structure_path.read_text()))
    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
    return model


def save_torch(model: Any, tokenizer: Any, folder: Path, structure: dict[str, Any] | None) -> None:
    """save_pretrained plus the per-layer structure, so load_classifier can rebuild the pruned shapes."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    if structure is not None:
        (folder / STRUCTURE_FILE).write_text(json.dumps(structure, indent=1))


def encoder_layers(model: Any) -> Any:
    """The nn.ModuleList of encoder layers of a BERT-family classifier."""
    base = getattr(model, model.base_model_prefix)
    return base.encoder.layer


def student_layer_ids(total: int, layers: int | None, layer_ids: list[int] | None) -> list[int]:
    """Teacher layers a derived student keeps: explicit ids, or `layers` evenly spaced ending at the top."""
    if layer_ids is not None:
        bad = [i for i in layer_ids if i >= total]
        if bad:
            raise UserError(f"distill.student.layer_ids: the teacher has {total} layers (0..{total - 1}), got {bad}")
        return sorted(set(layer_ids))
    assert layers is not None
    if layers > total:
        raise UserError(f"distill.student.layers: {layers} is more than the teacher's {total} layers")
    step = total / layers
    return [round((i + 1) * step) - 1 for i in range(layers)]


def derive_student(teacher: Any, keep: list[int]) -> Any:
    """A copy of the teacher with only the encoder layers `keep` (the DistilBERT-style initialisation)."""
    import copy

    import torch

    student = copy.deepcopy(teacher)
    layers = encoder_layers(student)
    kept = torch.nn.ModuleList([layers[i] for i in keep])
    for new_index, layer in enumerate(kept):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    getattr(student, student.base_model_prefix).encoder.layer = kept
    student.config.num_hidden_layers = len(keep)
    return student


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
