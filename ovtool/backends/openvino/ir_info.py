"""What an OpenVINO IR contains: inputs, outputs, weights and their precisions, size on disk."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ovtool.errors import UserError, shorten
from ovtool.library_errors import library_logs_captured, openvino_message

# Constants this small are shapes/axes/scalars, not weights.
MIN_WEIGHT_ELEMENTS = 16
READ_HINTS = {
    "bin file cannot be found": "its .bin (weights) is missing beside it",
    "Incorrect weights in bin file": "its .bin is truncated or belongs to another .xml",
    "Unable to read the model": "it is not an OpenVINO IR .xml",
}


def read_model(xml: Path) -> Any:
    """ov.Model from an IR; a file OpenVINO cannot read is invalid input (exit 2) naming the file."""
    import openvino as ov

    try:
        with library_logs_captured():  # the TF frontend probes an unknown .xml and logs raw bytes
            return ov.Core().read_model(str(xml))
    except RuntimeError as exc:
        message = openvino_message(exc)
        hint = next((h for key, h in READ_HINTS.items() if key in message), None)
        if hint is not None:
            raise UserError(f"cannot read the OpenVINO IR {shorten(xml)}: {hint}") from exc
        raise UserError(f"cannot read the OpenVINO IR {shorten(xml)}: {shorten(message, 300)}") from exc


def port_table(ports: Any) -> list[dict[str, str]]:
    return [
        {
            "name": port.get_any_name() if port.get_names() else f"#{i}",
            "shape": str(port.get_partial_shape()),
            "type": str(port.get_element_type().get_type_name()),
        }
        for i, port in enumerate(ports)
    ]


def weight_precisions(model: Any) -> dict[str, int]:
    """Weight elements per element type (f32, f16, i8, u4, …): the precision mix read from the IR."""
    mix: Counter[str] = Counter()
    for op in model.get_ops():
        if op.get_type_name() != "Constant":
            continue
        shape = op.get_output_shape(0)
        count = 1
        for dim in shape:
            count *= dim
        if count >= MIN_WEIGHT_ELEMENTS:
            mix[op.get_output_element_type(0).get_type_name()] += count
    return dict(mix.most_common())


def describe_ir(xml: Path) -> dict[str, Any]:
    """A JSON-able description of the IR at `xml` (and its .bin)."""
    model = read_model(xml)
    mix = weight_precisions(model)
    bin_path = xml.with_suffix(".bin")
    size = xml.stat().st_size + (bin_path.stat().st_size if bin_path.exists() else 0)
    stateful = bool(model.get_sinks()) if hasattr(model, "get_sinks") else False
    return {
        "xml": xml.name,
        "inputs": port_table(model.inputs),
        "outputs": port_table(model.outputs),
        "weight_elements": sum(mix.values()),
        "weight_precisions": mix,
        "size_bytes": size,
        "stateful": stateful,
        "ops": len(model.get_ops()),
    }
