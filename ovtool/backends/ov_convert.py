"""ONNX, TFLite, TF, Paddle and PyTorch files → ov.Model through `openvino.convert_model`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.errors import UserError
from ovtool.recipe.sections.convert import InputSpec


def partial_shape(dims: list[int | str]) -> Any:
    import openvino as ov

    out = []
    for dim in dims:
        if isinstance(dim, int):
            out.append(ov.Dimension() if dim == -1 else ov.Dimension(dim))
        elif dim == "?":
            out.append(ov.Dimension())
        else:
            low, _, high = dim.partition("..")
            out.append(ov.Dimension(int(low or 0), int(high) if high else -1))
    return ov.PartialShape(out)


def _load_pytorch(path: Path, inputs: dict[str, InputSpec]) -> Any:
    """A torch.export program (.pt2) or a TorchScript file (.pt/.pth) as an object convert_model takes."""
    import torch

    if path.suffix == ".pt2":
        return torch.export.load(str(path)), None
    module = torch.jit.load(str(path), map_location="cpu")
    static = [spec.shape for spec in inputs.values() if spec.shape and all(isinstance(d, int) and d > 0
                                                                             for d in spec.shape)]
    if not static:
        raise UserError(f"{path.name}: TorchScript needs static example shapes: set convert.inputs.<name>.shape")
    return module, tuple(torch.zeros(*shape) for shape in static)


def convert_file(path: Path, fmt: str, inputs: dict[str, InputSpec] | None) -> Any:
    """Read a model file with OpenVINO's frontends; an unreadable file is the user's to fix (exit 2)."""
    import openvino as ov

    inputs = inputs or {}
    shaped = [(name, partial_shape(spec.shape)) for name, spec in inputs.items() if spec.shape is not None]
    kwargs: dict[str, Any] = {}
    if shaped:
        kwargs["input"] = shaped
    source: Any = str(path)
    try:
        if fmt == "pytorch":
            source, example = _load_pytorch(path, inputs)
            if example is not None:
                kwargs = {"example_input": example}
        model = ov.convert_model(source, **kwargs)
    except UserError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {fmt} model {path}: {first}") from exc
    return apply_layouts(model, inputs)


def apply_layouts(model: Any, inputs: dict[str, InputSpec]) -> Any:
    import openvino as ov

    with_layout = {name: spec.layout for name, spec in inputs.items() if spec.layout}
    if not with_layout:
        return model
    ppp = ov.preprocess.PrePostProcessor(model)
    names = {n for port in model.inputs for n in port.get_names()}
    for name, layout in with_layout.items():
        if name not in names:
            raise UserError(f"convert.inputs.{name}: the model has no input {name!r} (inputs: {sorted(names)})")
        ppp.input(name).model().set_layout(ov.Layout(layout))
    return ppp.build()


def check_input_names(model: Any, inputs: dict[str, InputSpec] | None) -> None:
    names = {n for port in model.inputs for n in port.get_names()}
    for name in inputs or {}:
        if name not in names:
            raise UserError(f"convert.inputs.{name}: the model has no input {name!r} (inputs: {sorted(names)})")


def save_ir(model: Any, xml: Path, fp16: bool) -> None:
    import openvino as ov

    xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(xml), compress_to_fp16=fp16)
