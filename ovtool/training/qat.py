"""NNCF quantization-aware training of a torch model: quantize with calibration data, then fine-tune.

NNCF 3.4's `nncf.strip` cannot be used here: nncf/torch/function_hook/strip.py imports `torchao`
at module level and torchao is not a dependency of nncf (nor installed). It is not needed either:
under tracing NNCF's quantizers emit torch fake-quantize ops, so the exported IR holds FakeQuantize
nodes with int8 weights (see export.py).
"""

from __future__ import annotations

from typing import Any

from ovtool.recipe.sections.distill import QatSpec
from ovtool.training.nncf_kernels import ensure_cpu_kernels


def quantize_for_training(model: Any, calibration: list[dict[str, Any]], spec: QatSpec) -> Any:
    """Insert NNCF fake quantizers (transformer patterns, ranges from `calibration` batches)."""
    import nncf

    ensure_cpu_kernels()  # compiled here (told, timed, no time limit), not inside NNCF's 60 s limit
    model.eval()
    dataset = nncf.Dataset(calibration, lambda batch: {k: v for k, v in batch.items() if k != "labels"})
    preset = nncf.QuantizationPreset.MIXED if spec.preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE
    # Training moves weights and ranges anyway: skip SmoothQuant and bias correction (two extra
    # statistics passes over the calibration set) and keep only the min-max range initialisation.
    advanced = nncf.AdvancedQuantizationParameters(
        smooth_quant_alphas=nncf.AdvancedSmoothQuantParameters(matmul=-1), disable_bias_correction=True
    )
    return nncf.quantize(
        model, dataset, model_type=nncf.ModelType.TRANSFORMER, preset=preset, subset_size=len(calibration),
        advanced_parameters=advanced,
    )  # fmt: skip
