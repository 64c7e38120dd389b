"""Which kind of model a path holds, from its name and first bytes (no heavy imports)."""

from __future__ import annotations

import errno
import re
import zipfile
from pathlib import Path

from ovtool.errors import UserError, shorten
from ovtool.ir_folder import IRFolder

SUFFIX_FORMATS = {
    ".gguf": "gguf",
    ".onnx": "onnx",
    ".tflite": "tflite",
    ".xml": "ir",
    ".pdmodel": "paddle",
    ".pt2": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".pb": "tf",
}
KNOWN = "a Hugging Face folder, .gguf, .onnx, .tflite, IR .xml, TF SavedModel, .pdmodel, .pt2/.pt"
# a weight constant in an IR .xml: <layer … type="Const" …> <data … offset="2" size="864" />
_CONST_DATA = re.compile(rb'type="Const"[^>]*>\s*<data\b[^>]*?\boffset="(\d+)"[^>]*?\bsize="(\d+)"')


def find_ir_xml(path: Path) -> Path | None:
    """The IR .xml a path names (see IRFolder.find: an .xml, an IR folder or an ovtool OUT), else None."""
    ir = IRFolder.find(path)
    return ir.xml if ir is not None else None


# architectures (config.json) whose model generates text: what `generate` and a stateful export need
GENERATIVE_ARCHITECTURES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def hf_architectures(folder: Path) -> list[str]:
    """`architectures` of a Hugging Face folder's config.json ([] when it is absent or unreadable)."""
    import json

    try:
        archs = json.loads((Path(folder) / "config.json").read_text()).get("architectures")
    except (OSError, ValueError, AttributeError):
        return []
    return [str(a) for a in archs] if isinstance(archs, list) else []


def looks_like_hub_id(text: str) -> bool:
    """org/name; a model file's name (`models/llm.gguf`) is a mistyped path, not a repository."""
    parts = text.split("/")
    is_file_name = Path(text).suffix.lower() in SUFFIX_FORMATS
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~")) and not is_file_name


def detect_format(source: str, forced: str = "auto") -> str:
    """The source format of `source`, or UserError saying why it cannot be used."""
    path = Path(source)
    exists = _exists(path)
    if forced != "auto":
        if not exists and not (forced == "hf" and looks_like_hub_id(source)):
            raise UserError(f"model not found: {shorten(source)}")
        return forced
    if not exists:
        if looks_like_hub_id(source):
            return "hf"
        raise UserError(f"model not found: {shorten(source)} (give a path to {KNOWN}, or a hub id like org/name)")
    if path.is_dir():
        fmt = _detect_dir(path)
        if fmt == "ir":
            check_ir_files(find_ir_xml(path) or path)
        return fmt
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"unknown model format: {shorten(path.name)} (expected {KNOWN}); set convert.source_format")
    if path.stat().st_size == 0:
        raise UserError(f"model file is empty: {shorten(path)}")
    with path.open("rb") as f:
        head = f.read(4)
    if fmt == "gguf" and head != b"GGUF":
        raise UserError(f"{shorten(path)} is not a GGUF file (no GGUF magic at its start)")
    if path.suffix.lower() == ".pt2" and not zipfile.is_zipfile(path):
        raise UserError(f"{shorten(path)} is not a torch.export program (not the zip archive torch.export.save writes)")
    if fmt == "ir":
        check_ir_files(path)
    return fmt


def _exists(path: Path) -> bool:
    """Path.exists, with a path longer than the OS allows reported as invalid input (not an OSError)."""
    try:
        return path.exists()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise UserError(
                f"model path too long for this system ({len(str(path))} characters; at most 255 bytes a name, "
                f"4096 a path): {shorten(path)}"
            ) from exc
        raise


def check_ir_files(xml: Path) -> None:
    """An IR .xml is XML with a <net> root, and its .bin holds every weight the .xml points into.

    Cheap (no OpenVINO): --dry-run catches an annotation .xml or a missing/truncated .bin.
    """
    root = _xml_root(xml)
    if root != "net":
        raise UserError(f"{shorten(xml)} is not an OpenVINO IR: {root}")
    text = xml.read_bytes()
    end = max((int(offset) + int(size) for offset, size in _CONST_DATA.findall(text)), default=0)
    if end == 0:
        return
    weights = xml.with_suffix(".bin")
    if not weights.is_file():
        raise UserError(f"{shorten(xml)}: its weights file {weights.name} is missing (keep the .bin beside the .xml)")
    size = weights.stat().st_size
    if size < end:
        raise UserError(
            f"{shorten(weights)} is truncated: {size} bytes, {xml.name} needs {end} "
            "(copy it again, or use the .bin saved with this .xml)"
        )


def _xml_root(xml: Path) -> str:
    """The root element's name ('net' for an IR), or why the file is not XML."""
    from xml.etree.ElementTree import ParseError, iterparse

    try:
        for _, element in iterparse(str(xml), events=("start",)):
            return element.tag if element.tag == "net" else f"its root element is <{element.tag}>, an IR's is <net>"
    except ParseError as exc:
        return f"not XML ({exc})"
    return "no XML element in it"


def _detect_dir(path: Path) -> str:
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if not entries:
        raise UserError(f"model folder is empty: {path}")
    if find_ir_xml(path) is not None:
        return "ir"
    if (path / "config.json").exists():
        return "hf"
    if (path / "saved_model.pb").exists():
        return "tf"
    if any(p.suffix == ".pdmodel" for p in entries):
        return "paddle"
    ggufs = [p for p in entries if p.suffix == ".gguf"]
    if len(ggufs) == 1:
        return "gguf"
    raise UserError(f"cannot tell the model format of folder {path}: no config.json, IR .xml or saved_model.pb")
