"""What an IR takes (ModelInputs, read from its `describe_ir` summary and config.json) and how text
becomes its inputs: padded encoder inputs, consecutive LLM token chunks, one LLM prefill item.

Split from ovtool/data/calibration.py (which builds calibration/evaluation sets from these)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool.errors import UserError


@dataclass
class ModelInputs:
    """What an IR takes, read once from the IR and the files beside it."""

    folder: Path
    kind: str  # "llm" (stateful or beam_idx), "text" (input_ids), "image" (one rank-4 input), "tensor"
    inputs: list[dict[str, str]]
    image_hw: tuple[int, int] | None = None
    label2id: dict[str, int] | None = None
    num_outputs: int = 1
    classifier: bool = False  # one rank-2 output (logits over classes): labels are compared with its argmax


def describe_inputs(xml: Path, ir: dict[str, Any]) -> ModelInputs:
    """What the IR at `xml` takes; `ir` is its `describe_ir` summary (the caller reads the IR: data/ does not)."""
    names = [p["name"] for p in ir["inputs"]]
    folder = xml.parent
    label2id = None
    config = folder / "config.json"
    if config.exists():
        label2id = json.loads(config.read_text()).get("label2id") or None
    if ir["stateful"] or "beam_idx" in names:
        kind = "llm"
    elif "input_ids" in names:
        kind = "text"
    elif len(names) == 1 and ir["inputs"][0]["shape"].count(",") == 3:
        kind = "image"
    else:
        kind = "tensor"
    hw = None
    if kind == "image":
        dims = ir["inputs"][0]["shape"].strip("[]").split(",")
        if all(d.strip().isdigit() for d in dims[1:]):
            sizes = [int(d) for d in dims]
            hw = (sizes[2], sizes[3]) if sizes[1] in (1, 3) else (sizes[1], sizes[2])
    outs = ir["outputs"]
    classifier = len(outs) == 1 and outs[0]["shape"].count(",") == 1 and kind != "llm"
    return ModelInputs(folder, kind, ir["inputs"], hw, label2id, len(outs), classifier)


def _tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    if not any((folder / n).exists() for n in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        raise UserError(f"no tokenizer files (tokenizer.json…) beside the IR in {folder}: text data cannot be used")
    return AutoTokenizer.from_pretrained(str(folder))


def _encode_texts(texts: list[str], io: ModelInputs, max_length: int) -> list[dict[str, Any]]:
    """Text encoder/classifier inputs, padded to max_length (the sequence length it is measured at)."""
    tokenizer = _tokenizer(io.folder)
    names = {p["name"] for p in io.inputs}
    items = []
    for text in texts:
        enc = tokenizer(text, truncation=True, max_length=max_length, padding="max_length", return_tensors="np")
        items.append({k: v.astype("int64") for k, v in enc.items() if k in names})
    return items


def llm_chunks(texts: list[str], io: ModelInputs, length: int, count: int) -> tuple[list[list[int]], Any]:
    """Consecutive `length`-token chunks of the joined texts (whole chunks only), at most `count`."""
    tokenizer = _tokenizer(io.folder)
    chunks: list[list[int]] = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for start in range(0, len(ids) - length + 1, length):
            chunks.append(ids[start : start + length])
            if len(chunks) >= count:
                return chunks, tokenizer
    return chunks, tokenizer


def llm_item(ids: list[int], io: ModelInputs) -> dict[str, Any]:
    """One stateful-LLM forward pass over `ids` (a prefill), as NNCF and perplexity need it."""
    import numpy as np

    names = {p["name"] for p in io.inputs}
    n = len(ids)
    item = {
        "input_ids": np.asarray([ids], dtype=np.int64),
        "attention_mask": np.ones((1, n), dtype=np.int64),
        "position_ids": np.arange(n, dtype=np.int64)[None],
        "beam_idx": np.zeros((1,), dtype=np.int32),
    }
    return {k: v for k, v in item.items() if k in names}
