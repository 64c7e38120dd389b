"""Structured pruning of BERT-family encoders: gradient importance of heads and FFN neurons, then slicing.

transformers 5.x removed `PreTrainedModel.prune_heads` (and the `head_mask` inputs it relied on), so
heads are removed here by slicing the query/key/value rows and the attention-output columns with
transformers' own `prune_linear_layer`; FFN neurons the same way (intermediate rows, output columns).
Importance follows Michel et al. 2019 (|dL/d mask| of a head mask, L2-normalised per layer) and its
first-order Taylor analogue for FFN neurons; the masks are multiplied in by forward pre-hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ovtool.errors import UserError
from ovtool.recipe.sections.distill import StructuredSpec
from ovtool.training.models import encoder_layers


@dataclass
class Importance:
    heads: list[list[float]]  # per layer, per present head
    ffn: list[list[float]]  # per layer, per present neuron


def head_size(layer: Any) -> int:
    return int(layer.attention.self.attention_head_size)


def layer_shape(layer: Any) -> tuple[int, int]:
    """(heads, ffn neurons) a layer has now."""
    return layer.attention.self.query.out_features // head_size(layer), layer.intermediate.dense.out_features


def structure_of(model: Any) -> dict[str, list[int]]:
    shapes = [layer_shape(layer) for layer in encoder_layers(model)]
    return {"heads": [h for h, _ in shapes], "ffn": [f for _, f in shapes]}


def measure_importance(model: Any, batches: Iterable[dict[str, Any]]) -> Importance:
    """Accumulate |dLoss/dmask| over labeled batches for every head and FFN neuron (weights untouched)."""
    import torch

    layers = encoder_layers(model)
    head_masks, ffn_masks, handles = [], [], []
    for layer in layers:
        heads, ffn = layer_shape(layer)
        hmask = torch.ones(heads, requires_grad=True)
        fmask = torch.ones(ffn, requires_grad=True)
        size = head_size(layer)
        handles.append(
            layer.attention.output.dense.register_forward_pre_hook(
                lambda _m, args, mask=hmask, size=size: (args[0] * mask.repeat_interleave(size),)
            )
        )
        handles.append(layer.output.dense.register_forward_pre_hook(lambda _m, args, mask=fmask: (args[0] * mask,)))
        head_masks.append(hmask)
        ffn_masks.append(fmask)
    head_scores = [torch.zeros_like(m) for m in head_masks]
    ffn_scores = [torch.zeros_like(m) for m in ffn_masks]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            loss = model(**batch).loss
            grads = torch.autograd.grad(loss, head_masks + ffn_masks)
            for score, grad in zip(head_scores + ffn_scores, grads, strict=True):
                score += grad.abs().detach()
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return Importance([s.tolist() for s in head_scores], [s.tolist() for s in ffn_scores])


def _normalise(scores: list[float], how: str) -> list[float]:
    import math

    if how == "l2":
        norm = math.sqrt(sum(s * s for s in scores)) or 1.0
    else:
        norm = (sum(scores) / len(scores)) or 1.0
    return [s / norm for s in scores]


def _keep_counts(scores: list[list[float]], keep_total: int, fixed: dict[int, int], global_rank: bool,
                 how: str) -> list[int]:  # fmt: skip
    """Units each layer keeps: `fixed` layers as planned, the rest share `keep_total` (>= 1 per layer)."""
    sizes = [len(s) for s in scores]
    free = [i for i in range(len(sizes)) if i not in fixed]
    budget = keep_total - sum(fixed.values())
    counts = [fixed.get(i, 0) for i in range(len(sizes))]
    if not free:
        return counts
    free_size = sum(sizes[i] for i in free)
    if budget >= free_size:
        for i in free:
            counts[i] = sizes[i]
        return counts
    if not global_rank:
        for i in free:
            counts[i] = max(1, min(sizes[i], round(sizes[i] * budget / free_size)))
        return counts
    ranked = sorted(((v, i) for i in free for v in _normalise(scores[i], how)), reverse=True)
    for _, i in ranked[: max(budget, len(free))]:
        counts[i] += 1
    return [max(1, c) if i in free else c for i, c in enumerate(counts)]


def plan_keep(
    importance: Importance, spec: StructuredSpec, original: dict[str, list[int]], fraction: float = 1.0
) -> tuple[list[list[int]], list[list[int]]]:
    """Indexes of the heads and neurons each layer keeps after `fraction` of the way to the target.

    Targets are shares of the `original` (unpruned) counts, so iterative schedules (fraction 1/k,
    2/k, …, 1) end exactly where a one-shot prune would. Layers in `spec.plan` get their planned
    counts; the ratios apply to the other layers, which share what is kept by importance.
    """
    nl = len(importance.heads)
    bad = [i for i in spec.plan or {} if i >= nl or i < 0]
    if bad:
        raise UserError(f"structured.plan: the model has {nl} layers (0..{nl - 1}), got layer {bad}")
    result = []
    for name, scores, ratio, how in (("heads", importance.heads, spec.heads_ratio, "l2"),
                                     ("ffn", importance.ffn, spec.ffn_ratio, "mean")):  # fmt: skip
        first = original[name]
        fixed: dict[int, int] = {}
        for index, layer_plan in (spec.plan or {}).items():
            want = getattr(layer_plan, name)
            if want is None:
                continue
            if want > first[index]:
                raise UserError(f"structured.plan.{index}.{name}: {want} is more than the {first[index]} the layer has")
            fixed[index] = min(len(scores[index]), first[index] - round((first[index] - want) * fraction))
        planned_first = sum(first[i] for i in fixed)
        keep_free = round((sum(first) - planned_first) * (1 - ratio * fraction))
        counts = _keep_counts(scores, keep_free + sum(fixed.values()), fixed, spec.global_ranking, how)
        result.append(_top(scores, counts))
    return result[0], result[1]


def _top(scores: list[list[float]], counts: list[int]) -> list[list[int]]:
    return [sorted(sorted(range(len(s)), key=lambda i, s=s: -s[i])[:n]) for s, n in zip(scores, counts, strict=True)]


def prune_layers(model: Any, keep_heads: list[list[int]], keep_ffn: list[list[int]]) -> None:
    """Physically remove every head and neuron not kept (in place)."""
    import torch
    from transformers.pytorch_utils import prune_linear_layer

    for layer, heads, neurons in zip(encoder_layers(model), keep_heads, keep_ffn, strict=True):
        attn, size = layer.attention.self, head_size(layer)
        if len(heads) < layer_shape(layer)[0]:
            index = torch.cat([torch.arange(h * size, (h + 1) * size) for h in heads])
            attn.query = prune_linear_layer(attn.query, index)
            attn.key = prune_linear_layer(attn.key, index)
            attn.value = prune_linear_layer(attn.value, index)
            layer.attention.output.dense = prune_linear_layer(layer.attention.output.dense, index, dim=1)
            attn.num_attention_heads = len(heads)
            attn.all_head_size = len(heads) * size
        if len(neurons) < layer_shape(layer)[1]:
            index = torch.tensor(neurons, dtype=torch.long)
            layer.intermediate.dense = prune_linear_layer(layer.intermediate.dense, index)
            layer.output.dense = prune_linear_layer(layer.output.dense, index, dim=1)


def apply_structure(model: Any, structure: dict[str, list[int]]) -> None:
    """Give a freshly built model the per-layer shapes of a saved pruned one (weights are loaded next)."""
    keep_heads = [list(range(n)) for n in structure["heads"]]
    keep_ffn = [list(range(n)) for n in structure["ffn"]]
    prune_layers(model, keep_heads, keep_ffn)


def layer_table(model: Any, original: dict[str, list[int]]) -> list[list[Any]]:
    """Per layer: heads kept/pruned, FFN neurons kept/pruned, parameters now."""
    now = structure_of(model)
    rows = []
    for i, layer in enumerate(encoder_layers(model)):
        params = sum(p.numel() for p in layer.parameters())
        rows.append([i, now["heads"][i], original["heads"][i] - now["heads"][i],
                     now["ffn"][i], original["ffn"][i] - now["ffn"][i], params])  # fmt: skip
    return rows
