"""ONNX, TFLite, TF, Paddle and PyTorch files → ov.Model through `openvino.convert_model`."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from ovtool.errors import UserError, WorkFailed, first_line, shorten
from ovtool.library_errors import library_logs_captured, openvino_message
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
        try:
            return torch.export.load(str(path)), None
        except Exception as exc:  # zipfile, pickle, schema errors…: all say "not an export program"
            reason = first_line(exc, 200)
            if "warnings above" in reason:  # torch logged the real error (captured, shown with -v)
                reason = "the zip archive holds no exported program"
            raise UserError(f"{shorten(path)} is not a torch.export program ({reason})") from exc
    module = torch.jit.load(str(path), map_location="cpu")
    static = [spec.shape for spec in inputs.values() if spec.shape and all(isinstance(d, int) and d > 0
                                                                             for d in spec.shape)]
    if not static:
        raise UserError(
            f"{shorten(path.name)}: TorchScript needs static example shapes: set convert.inputs.<name>.shape"
        )
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
        with library_logs_captured():  # frontends probing random bytes log them via absl/glog
            if fmt == "pytorch":
                source, example = _load_pytorch(path, inputs)
                if example is not None:
                    kwargs = {"example_input": example}
            model = ov.convert_model(source, **kwargs)
    except UserError:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.ENAMETOOLONG):
            raise  # not the file's fault: error_map words these
        if shaped and fmt != "pytorch":
            _check_input_names(path, [name for name, _ in shaped], exc)
        raise UserError(f"cannot read {fmt} model {shorten(path)}: {shorten(openvino_message(exc), 300)}") from exc
    return apply_layouts(model, inputs)


def _check_input_names(path: Path, names: list[str], exc: Exception) -> None:
    """The file failed to convert with `convert.inputs` shapes: when it reads without them, the names or the
    shapes are what to fix, not the model (a misspelt input name read as "cannot read onnx model")."""
    import openvino as ov

    try:
        with library_logs_captured():
            plain = ov.convert_model(str(path))
    except Exception:
        return  # the file itself is unreadable: the caller says so
    known = [name for port in plain.inputs for name in sorted(port.get_names())]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UserError(f"convert.inputs: {shorten(path)} has no input named {', '.join(unknown)} "
                        f"(its inputs: {', '.join(known)})") from exc  # fmt: skip
    raise UserError(f"convert.inputs: the shapes do not fit {shorten(path)}: {shorten(openvino_message(exc), 300)}") \
        from exc


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
    """Write the IR; a failed write on a full filesystem says so (OpenVINO says only "iostream error")."""
    import openvino as ov

    from ovtool.error_map import is_disk_full, no_space_error

    xml.parent.mkdir(parents=True, exist_ok=True)
    try:
        ov.save_model(model, str(xml), compress_to_fp16=fp16)
    except (RuntimeError, OSError) as exc:
        needed = ir_size_estimate(model, fp16)
        if is_disk_full(xml.parent, needed):
            raise no_space_error(xml.parent, needed) from exc
        raise WorkFailed(f"cannot write the IR {shorten(xml)}: {openvino_message(exc)}") from exc


def ir_size_estimate(model: Any, fp16: bool) -> int:
    """Bytes the .bin will take: every weight constant (f32 ones halved when compressed to fp16)."""
    total = 0
    for op in model.get_ops():
        if op.get_type_name() == "Constant":
            size = op.get_byte_size()
            total += size // 2 if fp16 and op.get_output_element_type(0).get_type_name() == "f32" else size
    return total
