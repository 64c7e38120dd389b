"""Unstructured sparsity through `nncf.prune` (NNCF 3.4): magnitude (local/global) or regularization-based.

Zeros in dense weights do not make OpenVINO's dense CPU kernels faster; the stage measures and says so.
"""

from __future__ import annotations

from typing import Any

MODES = {
    "magnitude_local": "UNSTRUCTURED_MAGNITUDE_LOCAL",
    "magnitude_global": "UNSTRUCTURED_MAGNITUDE_GLOBAL",
    "regularization": "UNSTRUCTURED_REGULARIZATION_BASED",
}
# Embeddings, pooler and classifier head are left dense (as NNCF's own BERT examples do).
IGNORED_PATTERNS = [".*embeddings.*", ".*pooler.*", ".*classifier.*"]


def sparsify(model: Any, method: str, ratio: float, example: dict[str, Any]) -> Any:
    """Insert NNCF pruning masks; magnitude modes set them to `ratio` at once."""
    import nncf

    mode = getattr(nncf.PruneMode, MODES[method])
    return nncf.prune(
        model,
        mode=mode,
        ratio=None if method == "regularization" else ratio,
        ignored_scope=nncf.IgnoredScope(patterns=IGNORED_PATTERNS, validate=False),
        examples_inputs=example,
    )


def regularization_loss(model: Any, target: float) -> Any:
    """NNCF's RBLoss: pushes the learnt masks towards `target` sparsity during training."""
    from nncf.torch.function_hook.pruning.rb.losses import RBLoss

    return RBLoss(model, target_ratio=target)


def statistics(model: Any) -> tuple[float, float, list[list[Any]]]:
    """(share of zeros in pruned tensors, share in all parameters, rows: tensor, shape, ratio)."""
    import nncf

    stat = nncf.pruning_statistic(model)
    rows = [[s.tensor_name, "x".join(map(str, s.shape)), round(s.pruned_ratio, 4)]
            for s in sorted(stat.pruned_tensors, key=lambda s: s.tensor_name)]  # fmt: skip
    return float(stat.pruning_ratio), float(stat.global_pruning_ratio), rows


def ir_zero_share(xml: Any) -> float:
    """Share of exact zeros among the float weights (constants of 16+ elements) of an IR."""
    import numpy as np
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    zeros = total = 0
    for op in model.get_ops():
        if op.get_type_name() != "Constant" or not op.get_element_type().is_real():
            continue
        data = op.get_data()
        if data.size < 16:
            continue
        zeros += int(np.count_nonzero(data == 0))
        total += data.size
    return zeros / total if total else 0.0
