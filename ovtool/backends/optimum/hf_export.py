"""Hugging Face folders (or hub ids) → OpenVINO IR through optimum-intel's exporter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ovtool.errors import UserError, first_line


def infer_task_and_library(source: str, task: str | None, trust_remote_code: bool,
                           library: str | None = None) -> tuple[str, str]:
    """The task and library optimum-cli would pick (sentence-transformers folders export as transformers).

    optimum cannot infer a task from a local folder; there the task comes from the model class named
    in config.json, with `-with-past` added where the exporter supports it (stateful LLMs).
    """
    from optimum.exporters.openvino.__main__ import infer_library_name, infer_task

    try:
        if library is None:  # as optimum-cli: an inferred sentence_transformers exports as transformers
            library = infer_library_name(source)
            if library == "sentence_transformers":
                library = "transformers"
        if task is None and Path(source).is_dir():
            task = _task_from_config(Path(source), library)
        resolved = infer_task(task or "auto", source, library_name=library, trust_remote_code=trust_remote_code)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise UserError(f"cannot read the Hugging Face model {source}: {first_line(exc)}") from exc
    return resolved, library


def _task_from_config(folder: Path, library: str) -> str:
    import json

    import transformers
    from optimum.exporters.tasks import TasksManager

    config = json.loads((folder / "config.json").read_text())
    architectures = config.get("architectures") or []
    model_class = getattr(transformers, architectures[0], None) if architectures else None
    if model_class is None:
        raise UserError(f"{folder}/config.json names no known architecture: set convert.task")
    task = TasksManager._infer_task_from_model_or_model_class(model_class=model_class)
    supported = TasksManager.get_supported_tasks_for_model_type(
        config.get("model_type", ""), exporter="openvino", library_name=library
    )
    if f"{task}-with-past" in supported:
        task = f"{task}-with-past"
    return task


def export_hf(
    source: str,
    out_dir: Path,
    *,
    task: str | None,
    trust_remote_code: bool,
    dtype: str | None,
    library: str | None = None,
    stateful: bool = True,
    convert_tokenizer: bool = True,
    pad_token_id: int | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """optimum's main_export with tokenizers converted (LLMs become stateful with tokenizer IR).

    `dtype` fp16/fp32 is optimum-cli's --weight-format fp16/fp32; None lets optimum compress models over
    1B parameters to int8, as optimum-cli does when no weight format is given.
    """
    from optimum.exporters.openvino import main_export
    from optimum.intel import OVConfig

    resolved_task, library = infer_task_and_library(source, task, trust_remote_code, library)
    try:
        main_export(
            model_name_or_path=source,
            output=out_dir,
            task=resolved_task,
            trust_remote_code=trust_remote_code,
            ov_config=OVConfig(dtype=dtype) if dtype else None,
            stateful=stateful,
            convert_tokenizer=convert_tokenizer,
            library_name=library,
            pad_token_id=pad_token_id,
            variant=variant,
        )
    except ValueError as exc:
        text = str(exc)
        if "trust_remote_code" in text:
            raise UserError(
                f"{source} ships its own model code: set convert.trust_remote_code: true "
                "(or --trust-remote-code) if you trust it"
            ) from exc
        raise UserError(f"cannot export {source}: {first_line(exc)}") from exc
    return {"task": resolved_task, "library": library}


def make_static(xml: Path, inputs: dict[str, Any]) -> list[str]:
    """Reshape an exported IR's inputs to the recipe's shapes (optimum exports dynamic ones), in place.

    Returns the inputs reshaped; an unknown input name or an impossible shape is the user's to fix.
    """
    from ovtool.backends.openvino.ir_info import read_model
    from ovtool.backends.openvino.ov_convert import check_input_names, partial_shape, save_ir

    model = read_model(xml)
    check_input_names(model, inputs)
    shapes = {name: partial_shape(spec.shape) for name, spec in inputs.items() if spec.shape is not None}
    try:
        model.reshape(shapes)
    except RuntimeError as exc:
        raise UserError(f"convert.inputs: cannot reshape {xml.name} to {inputs}: {first_line(exc, 300)}") from exc
    tmp = xml.with_name(xml.stem + ".static.xml")
    save_ir(model, tmp, fp16=False)  # weights keep the precision they were exported in
    del model
    tmp.replace(xml)
    tmp.with_suffix(".bin").replace(xml.with_suffix(".bin"))
    return sorted(shapes)
