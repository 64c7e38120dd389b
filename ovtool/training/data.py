"""Labeled text for training: the canonical splits (ovtool.data.text), labels aligned to the model, tokenized."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ovtool.errors import UserError
from ovtool.recipe.sections.data import DataSpec

SPLITS = ("train", "validation", "test")


@dataclass
class LabeledSplits:
    """Texts and integer label ids per split, plus the label names in id order."""

    texts: dict[str, list[str]]
    labels: dict[str, list[int]]
    label_names: list[str]

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.texts.items()}


def load_splits(spec: DataSpec, id2label: dict[int, str] | None) -> LabeledSplits:
    """The canonical 0.8/0.1/0.1 stratified split (ovtool.data.text, seed 0): the test split is never trained on."""
    from ovtool.data import text as textdata
    from ovtool.data.text_split import split_dataset

    ds = textdata.load_text_dataset(
        spec.path or "", fmt=spec.format, text_field=spec.text_field or "text", label_field=spec.label_field or "label",
    )  # fmt: skip
    if "label" not in ds.column_names:
        raise UserError(f"{spec.path} has no labels: set data.label_field (or use a folder per label)")
    parts = split_dataset(ds, ratios=textdata.CANONICAL_RATIOS, seed=0, stratify=True)
    raw: dict[str, tuple[list[str], list[Any]]] = {}
    for split in SPLITS:
        texts, ids = textdata.texts_and_labels(parts[split])
        names = textdata.label_names(parts[split]) or []
        raw[split] = (texts, [names[i] for i in ids or []])
    all_labels = sorted({str(v) for _, labels in raw.values() for v in labels})
    names = label_order(all_labels, id2label)
    index = {name: i for i, name in enumerate(names)}
    return LabeledSplits(
        texts={k: texts for k, (texts, _) in raw.items()},
        labels={k: [index[str(v)] for v in labels] for k, (_, labels) in raw.items()},
        label_names=names,
    )


def label_order(found: list[str], id2label: dict[int, str] | None) -> list[str]:
    """Label names in the model's id order; a model with generic LABEL_i names takes the sorted data labels."""
    if not id2label or all(str(v).startswith("LABEL_") for v in id2label.values()):
        if id2label and len(id2label) != len(found):
            raise UserError(f"the model has {len(id2label)} labels, the data {len(found)}: {', '.join(found)}")
        return found
    model_names = [str(id2label[i]) for i in sorted(id2label)]
    lower = {n.lower(): n for n in model_names}
    mapped = {f: f if f in model_names else lower.get(f.lower()) for f in found}
    unknown = [f for f, m in mapped.items() if m is None]
    if unknown:
        raise UserError(f"data labels {unknown} are not among the model's labels ({', '.join(model_names)})")
    return [next((f for f, m in mapped.items() if m == n), n) for n in model_names]


def subsample(texts: list[str], labels: list[int], count: int | None, seed: int) -> tuple[list[str], list[int]]:
    """A seeded, stratification-free random subset (the splits are already stratified)."""
    import random

    if count is None or count >= len(texts):
        return texts, labels
    order = random.Random(seed).sample(range(len(texts)), count)
    return [texts[i] for i in order], [labels[i] for i in order]


def tokenized_dataset(tokenizer: Any, texts: list[str], labels: list[int], max_length: int) -> Any:
    """A `datasets.Dataset` of input_ids/attention_mask(/token_type_ids)/labels, padded to max_length."""
    from datasets import Dataset

    enc = tokenizer(texts, truncation=True, max_length=max_length, padding="max_length")
    data = {k: list(v) for k, v in enc.items()}
    data["labels"] = labels
    return Dataset.from_dict(data).with_format("torch")


def batches(dataset: Any, batch_size: int) -> list[dict[str, Any]]:
    """Plain dict batches of torch tensors (importance measurement and QAT calibration)."""
    out = []
    for start in range(0, len(dataset), batch_size):
        out.append(dataset[start : start + batch_size])
    return out
