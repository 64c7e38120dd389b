"""Weight compression of an IR with nncf.compress_weights, and the checks it would fail late.

`matmul_channels` reads the IR .xml with the standard library only, so a group size that does not
divide a layer's input channels fails at validation, before OpenVINO or NNCF load the model.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ovtool.errors import UserError
from ovtool.recipe.sections.quantize import WeightsSpec

# Ops NNCF sees through between a weight constant and the MatMul that uses it.
_PASS_THROUGH = {"Convert", "Reshape", "Transpose", "Subtract", "Multiply", "Unsqueeze", "Squeeze"}


def matmul_channels(xml: Path) -> dict[str, int]:
    """MatMul name → the reduction (input-channel) size of its constant weight, parsed from the IR xml."""
    root = ET.parse(xml).getroot()
    layers = {layer.get("id"): layer for layer in root.iter("layer")}
    into: dict[tuple[str, str], tuple[str, str]] = {}
    for edge in root.iter("edge"):
        target = (edge.get("to-layer", ""), edge.get("to-port", ""))
        into[target] = (edge.get("from-layer", ""), edge.get("from-port", ""))
    channels: dict[str, int] = {}
    for layer_id, layer in layers.items():
        if layer.get("type") != "MatMul":
            continue
        ports = [p.get("id", "") for p in layer.iter("port")][:2]
        if len(ports) < 2:
            continue
        const = _weight_const(layers, into, layer_id, ports[1])
        if const is None:
            continue
        shape = [int(d) for d in (const.find("data").get("shape") or "").split(",") if d.strip()]  # type: ignore[union-attr]
        if len(shape) < 2:
            continue
        data = layer.find("data")
        transpose_b = data is not None and data.get("transpose_b") == "true"
        channels[layer.get("name", layer_id)] = shape[-1] if transpose_b else shape[-2]
    return channels


def _weight_const(layers: dict[str, Any], into: dict, layer_id: str, port: str) -> Any:
    """Follow the weight input back through converts/reshapes to a Const (None for activations)."""
    current = into.get((layer_id, port))
    for _ in range(6):
        if current is None:
            return None
        layer = layers[current[0]]
        kind = layer.get("type")
        if kind == "Const":
            return layer
        if kind not in _PASS_THROUGH:
            return None
        first_port = next((p.get("id", "") for p in layer.iter("port")), "0")
        current = into.get((current[0], first_port))
    return None


def check_group_size(xml: Path, spec: WeightsSpec) -> dict[str, int]:
    """Layers whose channels `group_size` does not divide; an error unless a fallback is set."""
    group = spec.group_size
    if group is None and spec.mode in ("int4_sym", "int4_asym", "int3_sym", "int2_sym", "nf4", "fp4"):
        group = 128  # NNCF's default for these modes
    if group in (None, -1) or spec.mode.startswith("int8"):
        return {}
    bad = {name: c for name, c in matmul_channels(xml).items() if c % group}  # type: ignore[operator]
    if bad and spec.group_size_fallback in (None, "error"):
        sizes = sorted(set(bad.values()))
        raise UserError(
            f"quantize.weights.group_size {group} does not divide the input channels {sizes} of "
            f"{len(bad)} layers (e.g. {next(iter(bad))}): choose a divisor of {sizes[0]} or set "
            "quantize.weights.group_size_fallback: adjust (or ignore)"
        )
    return bad


def quiet_nncf() -> None:
    """NNCF logs every ignored node at INFO on stderr; keep its warnings and progress bars only."""
    import logging

    import nncf

    nncf.set_log_level(logging.WARNING)


def ignored_scope(spec: Any) -> Any:
    """An nncf.IgnoredScope from the recipe's IgnoredScopeSpec (auto excluded: handled by PTQ)."""
    import nncf

    if spec is None:
        return None
    return nncf.IgnoredScope(
        names=list(spec.names),
        patterns=list(spec.patterns),
        types=list(spec.types),
        subgraphs=[nncf.Subgraph(inputs=s.inputs, outputs=s.outputs) for s in spec.subgraphs],
        validate=spec.validate_names,
    )


def compress(model: Any, spec: WeightsSpec, dataset_items: list[dict[str, Any]] | None) -> Any:
    """nncf.compress_weights on an openvino.Model; data-aware steps read `dataset_items`."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedCompressionParameters, GroupSizeFallbackMode

    advanced = None
    if spec.group_size_fallback is not None:
        advanced = AdvancedCompressionParameters(
            group_size_fallback_mode=GroupSizeFallbackMode(spec.group_size_fallback)
        )
    kwargs: dict[str, Any] = {
        "mode": nncf.CompressWeightsMode(spec.mode),
        "ratio": spec.ratio,
        "group_size": spec.group_size,
        "all_layers": spec.all_layers,
        "awq": spec.awq,
        "scale_estimation": spec.scale_estimation,
        "gptq": spec.gptq,
        "lora_correction": spec.lora_correction,
        "ignored_scope": ignored_scope(spec.ignored_scope),
        "advanced_parameters": advanced,
    }
    if spec.sensitivity_metric is not None:
        kwargs["sensitivity_metric"] = nncf.SensitivityMetric(spec.sensitivity_metric)
    if spec.backup_mode is not None:
        kwargs["backup_mode"] = nncf.BackupMode(spec.backup_mode)
    if dataset_items is not None:
        kwargs["dataset"] = nncf.Dataset(dataset_items)
        kwargs["subset_size"] = min(spec.subset_size, len(dataset_items))
    quiet_nncf()
    try:
        return nncf.compress_weights(model, **kwargs)
    except (nncf.ParameterNotSupportedError, nncf.ValidationError) as exc:
        raise UserError(f"nncf.compress_weights rejects these options: {exc}") from exc
