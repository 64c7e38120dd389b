"""Benchmark inputs: static shapes for every model input, and data of the right dtype and range.

benchmark_app fills every input with random values of the full dtype range; token ids outside the
vocabulary and all-random attention masks measure a model no one runs. Here integer inputs are
named-aware: token ids within the vocabulary, masks of ones, token types and positions as a
tokenizer would give them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ovtool.errors import UserError

# Vocabulary used when the model folder has no config.json saying otherwise (BERT-base's).
FALLBACK_VOCAB = 30522


def resolve_shapes(model: Any, shapes: list[int] | dict[str, list[int]] | None) -> dict[str, list[int]]:
    """A static shape per input name: the model's own where static, else the recipe's (else exit 2)."""
    if isinstance(shapes, dict):
        names = {port.get_any_name() for port in model.inputs}
        unknown = sorted(set(shapes) - names)
        if unknown:
            raise UserError(
                f"benchmark.shapes names unknown input(s) {', '.join(unknown)}; the model's inputs are "
                f"{', '.join(sorted(names))}"
            )
    resolved: dict[str, list[int]] = {}
    for port in model.inputs:
        name = port.get_any_name()
        partial = port.get_partial_shape()
        given = shapes.get(name) if isinstance(shapes, dict) else shapes
        if given is None:
            if partial.is_dynamic:
                rank = partial.rank.get_length() if partial.rank.is_static else 2
                example = "[" + ",".join(["1"] + ["128"] * (rank - 1)) + "]"
                raise UserError(
                    f"input '{name}' has a dynamic shape {partial}: give static shapes with --shape '{example}' "
                    f"(every input) or --shape '{name}={example}', or `benchmark.shapes` in the recipe"
                )
            resolved[name] = [d.get_length() for d in partial]
            continue
        if partial.rank.is_static and partial.rank.get_length() != len(given):
            raise UserError(
                f"benchmark.shapes for input '{name}' is {given} but the input has rank "
                f"{partial.rank.get_length()} ({partial})"
            )
        if not partial.compatible(_shape(given)):
            raise UserError(f"benchmark.shapes for input '{name}' is {given}, which does not fit {partial}")
        resolved[name] = list(given)
    return resolved


def _shape(dims: list[int]) -> Any:
    import openvino as ov

    return ov.PartialShape(dims)


def vocab_size(model_dir: Path) -> int | None:
    """The vocabulary size from the model folder's config.json, if it has one."""
    config = model_dir / "config.json"
    if not config.exists():
        return None
    data = json.loads(config.read_text())
    value = data.get("vocab_size") or data.get("text_config", {}).get("vocab_size")
    return int(value) if value else None


def random_inputs(model: Any, shapes: dict[str, list[int]], vocab: int, seed: int) -> dict[str, Any]:
    """One batch of random inputs, each with the dtype and a plausible range for its name."""
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs: dict[str, Any] = {}
    for port in model.inputs:
        name = port.get_any_name()
        shape = shapes[name]
        dtype = port.get_element_type().to_dtype()
        lowered = name.lower()
        if np.issubdtype(dtype, np.floating):
            inputs[name] = rng.random(shape, dtype=np.float32).astype(dtype)
        elif dtype == np.bool_ or "mask" in lowered:
            inputs[name] = np.ones(shape, dtype=dtype)
        elif "token_type" in lowered or "segment" in lowered:
            inputs[name] = np.zeros(shape, dtype=dtype)
        elif "position" in lowered and shape:
            inputs[name] = np.broadcast_to(np.arange(shape[-1], dtype=dtype), shape).copy()
        elif "ids" in lowered or "input" in lowered or "token" in lowered:
            inputs[name] = rng.integers(0, vocab, size=shape).astype(dtype)
        else:
            inputs[name] = rng.integers(0, 2, size=shape).astype(dtype)
    return inputs


def text_inputs(
    model: Any, shapes: dict[str, list[int]], tokenizer_dir: Path, texts: list[str]
) -> list[dict[str, Any]]:
    """Real text tokenized to the static [batch, length] of the inputs; one dict per batch."""
    import numpy as np
    from transformers import AutoTokenizer

    names = [port.get_any_name() for port in model.inputs]
    first = shapes[names[0]]
    if len(first) != 2:
        raise UserError(f"benchmark.data (text) needs [batch, length] inputs; '{names[0]}' has shape {first}")
    batch, length = first
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    except (OSError, ValueError) as exc:
        raise UserError(f"benchmark.data: no Hugging Face tokenizer in {tokenizer_dir} to tokenize the text") from exc
    if not texts:
        raise UserError("benchmark.data: the dataset has no samples")
    batches: list[dict[str, Any]] = []
    for start in range(0, max(len(texts) - batch + 1, 1), batch):
        chunk = [texts[(start + i) % len(texts)] for i in range(batch)]
        encoded = tokenizer(chunk, padding="max_length", truncation=True, max_length=length, return_tensors="np")
        sample: dict[str, Any] = {}
        for port in model.inputs:
            name = port.get_any_name()
            if name not in encoded:
                raise UserError(f"benchmark.data: the tokenizer gives no '{name}' (it gives {', '.join(encoded)})")
            sample[name] = np.asarray(encoded[name]).astype(port.get_element_type().to_dtype())
        batches.append(sample)
    return batches
