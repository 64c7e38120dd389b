"""Model inputs from a `DataSpec`: calibration and held-out evaluation samples for an IR.

What the IR takes decides how samples become inputs: token ids for text encoders/classifiers
(tokenized with the tokenizer saved beside the IR), chunks of token ids for LLMs, preprocessed
arrays for image models, random arrays only when the recipe says `synthetic: true`.
Calibration and evaluation samples never overlap: both come from one shuffled pool, or, when
they come from different sources, evaluation samples equal to a calibration sample are dropped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool import console
from ovtool.data.model_inputs import (  # noqa: F401 (re-exported: callers import these from here too)
    ModelInputs,
    _encode_texts,
    _tokenizer,
    describe_inputs,
    llm_chunks,
    llm_item,
)
from ovtool.errors import UserError
from ovtool.recipe.sections.data import DataSpec, ImagePreprocess

DEFAULT_TEXT_LENGTH = 128


@dataclass
class SampleSet:
    """Model inputs plus what they came from (labels, source text) and how they were chosen."""

    inputs: list[dict[str, Any]]
    labels: list[int] | None = None
    texts: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.inputs)


# ---------------------------------------------------------------- cheap checks (--dry-run)


def check_spec(spec: DataSpec, role: str) -> None:
    """Inputs exist and fields are there, without tokenizing or loading a model."""
    if spec.synthetic:
        return
    assert spec.path is not None
    if spec.path.startswith("@dataset"):  # produced by this run's dataset stage; checked once it exists
        return
    if spec.kind == "image":
        from ovtool.data.images import check_image_source

        check_image_source(spec)
        return
    if not Path(spec.path).exists():
        raise UserError(f"quantize.{role}.path: {spec.path} not found")
    texts, _ = _text_pool(spec, 0)
    if not texts:
        raise UserError(f"quantize.{role}: {spec.path} holds no text samples")


# ---------------------------------------------------------------- text


def _text_pool(spec: DataSpec, seed: int) -> tuple[list[str], list[str] | None]:
    """All texts (and label names) of a text DataSpec, shuffled with `seed`. Read by ovtool.data.text."""
    from ovtool.data import text as textdata

    assert spec.path is not None
    dataset = textdata.load_text_dataset(
        spec.path, fmt=spec.format, text_field=spec.text_field, label_field=spec.label_field, split=spec.split
    )
    texts, ids = textdata.texts_and_labels(dataset)
    names = textdata.label_names(dataset)
    labels = [names[i] if names else str(i) for i in ids] if ids is not None else None
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    return [texts[i] for i in order], ([labels[i] for i in order] if labels is not None else None)


# ---------------------------------------------------------------- synthetic


def synthetic(io: ModelInputs, count: int, seed: int, length: int) -> SampleSet:
    """Random inputs shaped like the model's (dynamic dims: 1 for batch, `length` otherwise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    items = []
    for _ in range(count):
        item = {}
        for port in io.inputs:
            dims = port["shape"].strip("[]").split(",")
            shape = [int(d) if d.strip().isdigit() else (1 if i == 0 else length) for i, d in enumerate(dims)]
            if port["name"] == "beam_idx":
                item[port["name"]] = np.zeros(shape, dtype=np.int32)
            elif port["type"].startswith(("i", "u")) and port["name"] in ("attention_mask",):
                item[port["name"]] = np.ones(shape, dtype=np.int64)
            elif port["name"] == "position_ids":
                item[port["name"]] = np.arange(shape[-1], dtype=np.int64)[None]
            elif port["type"].startswith(("i", "u")):
                item[port["name"]] = rng.integers(0, 1000, size=shape).astype(np.int64)
            else:
                item[port["name"]] = rng.standard_normal(shape).astype(np.float32)
        items.append(item)
    return SampleSet(items, info={"synthetic": True, "samples": count, "seed": seed})


# ---------------------------------------------------------------- the two sets


def calibration_and_evaluation(
    calibration: DataSpec | None,
    evaluation: DataSpec | None,
    io: ModelInputs,
    *,
    calib_count: int,
    eval_count: int,
    seed: int,
    eval_length: int | None = None,
) -> tuple[SampleSet | None, SampleSet]:
    """Calibration samples (None when there is no calibration data) and disjoint held-out samples."""
    eval_spec = evaluation or calibration
    if eval_spec is None:
        raise UserError("quantize.evaluation: no data to measure quality on: set quantize.evaluation")
    kind = eval_spec.kind
    if calibration is not None and calibration.kind != kind and evaluation is not None:
        raise UserError("quantize.calibration and quantize.evaluation must both be text or both images")
    _check_kind(eval_spec, io)
    if calibration is not None:
        _check_kind(calibration, io)
    if eval_spec.synthetic or (calibration is not None and calibration.synthetic):
        return _synthetic_sets(calibration, evaluation, io, calib_count, eval_count, seed)
    if kind == "image":
        return _image_sets(calibration, evaluation, io, calib_count, eval_count, seed)
    return _text_sets(calibration, evaluation, io, calib_count, eval_count, seed, eval_length)


def _check_kind(spec: DataSpec, io: ModelInputs) -> None:
    if spec.synthetic:
        return
    if spec.kind == "image" and io.kind != "image":
        raise UserError(f"image data given, but the model takes {_takes(io)}")
    if spec.kind == "text" and io.kind not in ("text", "llm"):
        raise UserError(f"text data given, but the model takes {_takes(io)}: set kind: image (or synthetic)")


def _takes(io: ModelInputs) -> str:
    return ", ".join(f"{p['name']} {p['shape']}" for p in io.inputs)


def _seed(spec: DataSpec | None, seed: int) -> int:
    return spec.seed if spec is not None and spec.seed is not None else seed


def _synthetic_sets(
    calibration: DataSpec | None, evaluation: DataSpec | None, io: ModelInputs, nc: int, ne: int, seed: int
) -> tuple[SampleSet | None, SampleSet]:
    length = (calibration or evaluation).max_length or 32  # type: ignore[union-attr]
    calib = None
    if calibration is not None:
        if not calibration.synthetic:
            raise UserError("synthetic evaluation needs synthetic calibration (or give quantize.evaluation.path)")
        calib = synthetic(io, calibration.samples or nc, _seed(calibration, seed), length)
    if evaluation is not None and not evaluation.synthetic:
        raise UserError("quantize.evaluation is real data but calibration is synthetic: give both real data")
    held = synthetic(io, (evaluation.samples if evaluation else None) or ne, _seed(evaluation, seed) + 1, length)
    return calib, held


def _image_sets(
    calibration: DataSpec | None, evaluation: DataSpec | None, io: ModelInputs, nc: int, ne: int, seed: int
) -> tuple[SampleSet | None, SampleSet]:
    from ovtool.data.images import load_images, preprocess

    def to_set(spec: DataSpec, images: list[Any], ids: list[str], labels: list[Any]) -> SampleSet:
        prep = spec.preprocess or ImagePreprocess()
        items = [{io.inputs[0]["name"]: preprocess(img, prep, io.image_hw)} for img in images]
        known = labels if io.classifier and labels and all(lb is not None for lb in labels) else None
        info = {"path": spec.path, "kind": "image", "format": pool.format, "split": spec.split,
                "samples": len(items), "ids": ids[:50]}  # fmt: skip
        return SampleSet(items, known, list(ids), info)

    if calibration is not None:
        pool = load_images(calibration, _seed(calibration, seed))
        n_c = min(calibration.samples or nc, len(pool.images))
        if evaluation is None:
            n_e = len(pool.images) - n_c
            if n_e <= 0:
                raise UserError(
                    f"quantize.calibration: {calibration.path} has {len(pool.images)} images, all used for "
                    "calibration: lower calibration.samples or give quantize.evaluation (held-out images)"
                )
            rest = slice(n_c, n_c + min(n_e, ne))
            calib = to_set(calibration, pool.images[:n_c], pool.ids[:n_c], pool.labels[:n_c])
            held = to_set(calibration, pool.images[rest], pool.ids[rest], pool.labels[rest])
            return calib, held
        calib = to_set(calibration, pool.images[:n_c], pool.ids[:n_c], pool.labels[:n_c])
        calib_keys = {_image_key(img) for img in pool.images[:n_c]}
    else:
        calib, calib_keys = None, set()
    assert evaluation is not None
    pool = load_images(evaluation, _seed(evaluation, seed))
    keep = [i for i, img in enumerate(pool.images) if _image_key(img) not in calib_keys]
    keep = keep[: evaluation.samples or ne]
    if not keep:
        raise UserError(f"quantize.evaluation: every image of {evaluation.path} is also a calibration image")
    held = to_set(evaluation, [pool.images[i] for i in keep], [pool.ids[i] for i in keep],
                  [pool.labels[i] for i in keep])  # fmt: skip
    return calib, held


def _image_key(image: Any) -> str:
    import hashlib

    return hashlib.sha1(image.tobytes()).hexdigest()


def _text_sets(
    calibration: DataSpec | None,
    evaluation: DataSpec | None,
    io: ModelInputs,
    nc: int,
    ne: int,
    seed: int,
    eval_length: int | None,
) -> tuple[SampleSet | None, SampleSet]:
    calib_texts: list[str] = []
    calib_labels: list[Any] | None = None
    rest_texts: list[str] = []
    rest_labels: list[Any] | None = None
    if calibration is not None:
        pool, labels = _text_pool(calibration, _seed(calibration, seed))
        if not pool:
            raise UserError(f"quantize.calibration: {calibration.path} holds no text samples")
        if io.kind == "llm":
            # chunks are cut from whole texts: keep whole texts apart, calibration from the first ones
            calib_texts, rest_texts = _split_texts_for_llm(pool, calibration, io, nc)
        else:
            n_c = min(calibration.samples or nc, len(pool))
            calib_texts, rest_texts = pool[:n_c], pool[n_c:]
            if labels is not None:
                calib_labels, rest_labels = labels[:n_c], labels[n_c:]
    if evaluation is not None:
        pool, labels = _text_pool(evaluation, _seed(evaluation, seed))
        seen = set(calib_texts)
        keep = [i for i, t in enumerate(pool) if t not in seen]
        rest_texts = [pool[i] for i in keep]
        rest_labels = [labels[i] for i in keep] if labels is not None else None
    if not rest_texts:
        raise UserError(
            "no held-out text left for the quality report: give quantize.evaluation, or lower calibration.samples"
        )
    eval_spec = evaluation or calibration
    assert eval_spec is not None
    if io.kind == "llm":
        calib = None
        if calibration is not None:
            length = calibration.max_length or DEFAULT_TEXT_LENGTH
            chunks, _ = llm_chunks(calib_texts, io, length, calibration.samples or nc)
            calib = SampleSet([llm_item(c, io) for c in chunks], None, calib_texts,
                              _text_info(calibration, len(chunks), length, "token chunks"))  # fmt: skip
        length = eval_length or (evaluation.max_length if evaluation else None) or DEFAULT_TEXT_LENGTH * 2
        count = (evaluation.samples if evaluation else None) or ne
        chunks, _ = llm_chunks(rest_texts, io, length, count)
        if not chunks:
            raise UserError(f"held-out text is shorter than one {length}-token chunk: give more text")
        held = SampleSet([llm_item(c, io) for c in chunks], None, rest_texts,
                         _text_info(eval_spec, len(chunks), length, "token chunks"))  # fmt: skip
        held.info["token_chunks"] = chunks
        return calib, held
    calib = None
    if calibration is not None:
        length = calibration.max_length or DEFAULT_TEXT_LENGTH
        calib = SampleSet(_encode_texts(calib_texts, io, length), _label_ids(calib_labels, io), calib_texts,
                          _text_info(calibration, len(calib_texts), length, "texts"))  # fmt: skip
    count = (evaluation.samples if evaluation else None) or ne
    texts, labels = rest_texts[:count], (rest_labels[:count] if rest_labels is not None else None)
    length = eval_spec.max_length or DEFAULT_TEXT_LENGTH
    held = SampleSet(_encode_texts(texts, io, length), _label_ids(labels, io), texts,
                     _text_info(eval_spec, len(texts), length, "texts"))  # fmt: skip
    return calib, held


def _split_texts_for_llm(
    pool: list[str], spec: DataSpec, io: ModelInputs, nc: int
) -> tuple[list[str], list[str]]:
    """Whole texts for calibration until they give `samples` chunks; the rest stay held out."""
    tokenizer = _tokenizer(io.folder)
    length = spec.max_length or DEFAULT_TEXT_LENGTH
    want = spec.samples or nc
    got, used = 0, 0
    for text in pool:
        if got >= want:
            break
        got += len(tokenizer(text, add_special_tokens=False)["input_ids"]) // length
        used += 1
    if used == len(pool):
        console.warn("every text went into calibration chunks; held-out chunks come from quantize.evaluation only")
    return pool[:used], pool[used:]


def _text_info(spec: DataSpec, count: int, length: int, unit: str) -> dict[str, Any]:
    return {"path": spec.path, "kind": "text", "format": spec.format, "split": spec.split,
            "samples": count, "unit": unit, "max_length": length, "text_field": spec.text_field,
            "label_field": spec.label_field}  # fmt: skip


def _label_ids(labels: list[str] | None, io: ModelInputs) -> list[int] | None:
    """Label names as the model's class ids (config.json label2id); without label2id, names that are ids."""
    if labels is None or not io.classifier:
        return None
    if io.label2id is None:
        if all(lb.isdigit() for lb in labels):
            return [int(lb) for lb in labels]
        raise UserError("the data has named labels but the model's config.json has no label2id to map them")
    unknown = sorted(set(labels) - set(io.label2id))
    if unknown:
        raise UserError(f"labels {unknown[:5]} are not in the model's label2id {sorted(io.label2id)}")
    return [int(io.label2id[lb]) for lb in labels]
