"""Post-training quantization of an IR: nncf.quantize, nncf.quantize_with_accuracy_control, and the
activation-range measurement behind `ignored_scope: {auto: {top_k: N}}`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ovtool.backends.nncf.nncf_weights import ignored_scope as to_ignored_scope
from ovtool.backends.nncf.nncf_weights import quiet_nncf
from ovtool.errors import UserError
from ovtool.recipe.sections.quantize import QuantizeSection

OVERFLOW_FIX = {"disable": "disable", "enable": "enable", "first_layer": "first_layer_only"}


@dataclass
class LayerRange:
    """The input activation range of one layer over the calibration data."""

    name: str
    type: str
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


def activation_ranges(model: Any, items: list[dict[str, Any]], types: list[str]) -> list[LayerRange]:
    """Min/max of the activation entering each `types` op, over `items` (f32 inference), widest first.

    The activation input is the op's first input whose producer is not a constant (weights).
    """
    import numpy as np
    import openvino as ov

    probe = model.clone()
    watched: list[tuple[str, str, Any]] = []
    for op in probe.get_ordered_ops():
        if op.get_type_name() not in types:
            continue
        for value in op.input_values():
            producer = value.get_node()
            if producer.get_type_name() in ("Constant", "Convert") and _is_constant(producer):
                continue
            watched.append((op.get_friendly_name(), op.get_type_name(), value))
            break
    if not watched:
        raise UserError(f"ignored_scope.auto: the model has no {'/'.join(types)} operations")
    outputs = probe.add_outputs([v for _, _, v in watched])
    compiled = ov.Core().compile_model(probe, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    lows = np.full(len(watched), np.inf)
    highs = np.full(len(watched), -np.inf)
    for item in items:
        if hasattr(request, "reset_state"):
            request.reset_state()
        request.infer(item)
        first = len(compiled.outputs) - len(outputs)
        for i in range(len(outputs)):
            data = request.get_tensor(compiled.outputs[first + i]).data
            lows[i] = min(lows[i], float(data.min()))
            highs[i] = max(highs[i], float(data.max()))
    ranges = [LayerRange(n, t, float(lo), float(hi)) for (n, t, _), lo, hi in zip(watched, lows, highs, strict=True)]
    return sorted(ranges, key=lambda r: r.width, reverse=True)


def _is_constant(node: Any) -> bool:
    while node.get_type_name() == "Convert":
        node = node.input_value(0).get_node()
    return node.get_type_name() == "Constant"


def _common_kwargs(section: QuantizeSection, extra_names: list[str]) -> dict[str, Any]:
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

    scope = section.ignored_scope
    ignored = to_ignored_scope(scope) if scope is not None else None
    if extra_names:
        ignored = ignored or nncf.IgnoredScope()
        ignored.names = [*ignored.names, *extra_names]
    advanced = AdvancedQuantizationParameters(disable_bias_correction=section.bias_correction == "none")
    if section.overflow_fix is not None:
        advanced.overflow_fix = nncf.OverflowFix(OVERFLOW_FIX[section.overflow_fix])
    if section.smooth_quant_alpha is not None:
        advanced.smooth_quant_alphas = AdvancedSmoothQuantParameters(matmul=section.smooth_quant_alpha)
    kwargs: dict[str, Any] = {
        "target_device": nncf.TargetDevice(section.target_device.upper()),
        "subset_size": section.subset_size,
        "fast_bias_correction": section.bias_correction != "full",
        "ignored_scope": ignored,
    }
    if section.preset is not None:
        kwargs["preset"] = nncf.QuantizationPreset(section.preset)
    if section.model_type is not None:
        kwargs["model_type"] = nncf.ModelType.TRANSFORMER
    return kwargs | {"advanced": advanced}


def quantize(model: Any, section: QuantizeSection, items: list[dict[str, Any]], extra_ignored: list[str]) -> Any:
    """nncf.quantize (INT8 or FP8) with the recipe's options."""
    import nncf

    kwargs = _common_kwargs(section, extra_ignored)
    advanced = kwargs.pop("advanced")
    if section.mode != "int8":
        kwargs["mode"] = nncf.QuantizationMode(section.mode)
    kwargs["subset_size"] = min(section.subset_size, len(items))
    quiet_nncf()
    try:
        return nncf.quantize(model, nncf.Dataset(items), advanced_parameters=advanced, **kwargs)
    except (nncf.ValidationError, nncf.ParameterNotSupportedError) as exc:
        raise UserError(f"nncf.quantize rejects these options: {exc}") from exc


def quantize_with_accuracy_control(
    model: Any,
    section: QuantizeSection,
    items: list[dict[str, Any]],
    validation_items: list[tuple[dict[str, Any], Any]],
    validation_fn: Callable[[Any, Iterable[Any]], float],
) -> tuple[Any, AccuracyControlLog]:
    """nncf.quantize_with_accuracy_control → (model, what NNCF reported: reverted operations, bound met?).

    `validation_items` are (model inputs, target) pairs: NNCF feeds the inputs to the model when it
    ranks layers and hands the pairs to `validation_fn` when it measures the metric.
    """
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    control = section.accuracy_control
    assert control is not None
    kwargs = _common_kwargs(section, [])
    advanced = kwargs.pop("advanced")
    kwargs["subset_size"] = min(section.subset_size, len(items))
    restorer = AdvancedAccuracyRestorerParameters()
    if control.max_num_iterations is not None:
        restorer.max_num_iterations = control.max_num_iterations
    capture = _RevertedCapture()
    logger = logging.getLogger("nncf")
    logger.setLevel(logging.INFO)  # the reverted operations are only reported at INFO
    logger.addHandler(capture)
    try:
        quantized = nncf.quantize_with_accuracy_control(
            model,
            nncf.Dataset(items),
            nncf.Dataset(validation_items, lambda pair: pair[0]),
            validation_fn,
            max_drop=control.max_drop,
            drop_type=nncf.DropType(control.drop_type),
            advanced_quantization_parameters=advanced,
            advanced_accuracy_restorer_parameters=restorer,
            **kwargs,
        )
    except (nncf.ValidationError, nncf.ParameterNotSupportedError) as exc:
        raise UserError(f"nncf.quantize_with_accuracy_control rejects these options: {exc}") from exc
    finally:
        logger.removeHandler(capture)
    return quantized, capture.outcome()


@dataclass(frozen=True)
class AccuracyControlLog:
    """What NNCF's accuracy restorer did: the operations it left in float, and whether it met max_drop.

    When NNCF cannot reach max_drop within max_num_iterations it returns the fully quantized model
    (nothing reverted) and says so only in its log: `met` is False then.
    """

    reverted: list[str]
    met: bool


class _RevertedCapture(logging.Handler):
    """NNCF reports the operations it reverted to float only in its log: read them from there."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.reverted: list[str] = []
        self.final: list[str] | None = None
        self.met = True

    def outcome(self) -> AccuracyControlLog:
        return AccuracyControlLog(self.result, self.met)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        names = [line.strip() for line in message.splitlines()[1:] if line.strip()]
        if "could not achieve the required accuracy drop" in message:
            self.met = False
        if "were reverted back to the floating-point precision" in message:
            self.final = names  # the summary (absent when every layer had to be reverted)
        elif message.startswith("Reverted ") and "to the floating-point precision" in message:
            self.reverted.extend(n for n in names if n not in self.reverted)

    @property
    def result(self) -> list[str]:
        return self.final if self.final is not None else self.reverted
