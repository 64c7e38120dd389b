"""Which kind of model a path holds, from its name and first bytes (no heavy imports)."""

from __future__ import annotations

from pathlib import Path

from ovtool.errors import UserError

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


def find_ir_xml(path: Path) -> Path | None:
    """The IR .xml a path names: the file itself, or openvino_model.xml (or the only .xml) in a folder."""
    if path.is_file() and path.suffix == ".xml":
        return path
    if path.is_dir():
        main = path / "openvino_model.xml"
        if main.exists():
            return main
        xmls = [p for p in path.glob("*.xml") if (p.with_suffix(".bin")).exists()]
        if len(xmls) == 1:
            return xmls[0]
    return None


def looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def detect_format(source: str, forced: str = "auto") -> str:
    """The source format of `source`, or UserError saying why it cannot be used."""
    path = Path(source)
    if forced != "auto":
        if not path.exists() and not (forced == "hf" and looks_like_hub_id(source)):
            raise UserError(f"model not found: {source}")
        return forced
    if not path.exists():
        if looks_like_hub_id(source):
            return "hf"
        raise UserError(f"model not found: {source} (give a path to {KNOWN}, or a hub id like org/name)")
    if path.is_dir():
        return _detect_dir(path)
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"unknown model format: {path.name} (expected {KNOWN}); set convert.source_format")
    if path.stat().st_size == 0:
        raise UserError(f"model file is empty: {path}")
    if fmt == "gguf" and path.read_bytes()[:4] != b"GGUF":
        raise UserError(f"{path} is not a GGUF file (no GGUF magic at its start)")
    return fmt


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
