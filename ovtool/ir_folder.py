"""One value for an OpenVINO IR folder, and the ovtool OUT folders accepted as inputs.

The file names an IR folder holds (openvino_model.xml/.bin, tokenizer and detokenizer IR, config)
are spelled here once, so a stage asks `IRFolder.find(path).has_tokenizer` instead of joining
names itself. An ovtool OUT folder (marked by `.ovtool` or ovtool's run.json) is accepted wherever
a model or a dataset is: users should not have to know to add `/model` or `/dataset`.

Bottom layer: stdlib and `ovtool.out_policy` (itself stdlib only) — no heavy library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ovtool.errors import UserError
from ovtool.out_policy import published_by_ovtool

MODEL_XML = "openvino_model.xml"
TOKENIZER_XML = "openvino_tokenizer.xml"
DETOKENIZER_XML = "openvino_detokenizer.xml"
TOKENIZER_XMLS = (TOKENIZER_XML, DETOKENIZER_XML)
CONFIG_JSON = "config.json"
GENERATION_CONFIG_JSON = "generation_config.json"

# What an OUT folder holds, by the kind of input asked for: OUT/model, OUT/dataset.
OutPart = Literal["model", "dataset"]


@dataclass(frozen=True)
class IRFolder:
    """An IR folder: the model .xml (with its .bin beside it) and the files pipelines load with it."""

    root: Path
    xml: Path

    @classmethod
    def at(cls, root: Path) -> IRFolder:
        """The IR folder ovtool writes (or wrote) at `root`: its model is root/openvino_model.xml."""
        return cls(root=root, xml=root / MODEL_XML)

    @classmethod
    def find(cls, path: Path) -> IRFolder | None:
        """The IR at `path`, or None when `path` holds none.

        Accepts an .xml file, an IR folder (openvino_model.xml, else the only .xml with a .bin beside
        it) or an ovtool OUT (its model/ folder).
        """
        if path.is_file() and path.suffix == ".xml":
            return cls(root=path.parent, xml=path)
        if not path.is_dir():
            return None
        main = path / MODEL_XML
        if main.exists():
            return cls(root=path, xml=main)
        xmls = [p for p in path.glob("*.xml") if p.with_suffix(".bin").exists()]
        if len(xmls) == 1:
            return cls(root=path, xml=xmls[0])
        model = out_part(path, "model")
        return cls.find(model) if model is not None else None

    @property
    def bin(self) -> Path:
        return self.xml.with_suffix(".bin")

    @property
    def tokenizer_xml(self) -> Path:
        return self.root / TOKENIZER_XML

    @property
    def detokenizer_xml(self) -> Path:
        return self.root / DETOKENIZER_XML

    @property
    def has_tokenizer(self) -> bool:
        """Both tokenizer IRs are there: what openvino_genai pipelines need to load the folder."""
        return self.tokenizer_xml.exists() and self.detokenizer_xml.exists()

    @property
    def missing_tokenizer_files(self) -> list[str]:
        return [name for name in TOKENIZER_XMLS if not (self.root / name).exists()]

    @property
    def config_json(self) -> Path:
        return self.root / CONFIG_JSON

    @property
    def generation_config(self) -> Path:
        return self.root / GENERATION_CONFIG_JSON


def is_ovtool_out(path: Path) -> bool:
    """`path` is a folder an ovtool run published (its .ovtool marker or ovtool's run.json)."""
    try:
        return path.is_dir() and published_by_ovtool(path)
    except OSError:  # unreadable or over-long: not ours to judge here; the caller's checks say why
        return False


def out_part(path: Path, part: OutPart) -> Path | None:
    """OUT/model or OUT/dataset when `path` is an ovtool OUT holding it; None when it is no OUT.

    An OUT without the part asked for (e.g. a benchmark OUT given as a model) is invalid input.
    """
    if not is_ovtool_out(path):
        return None
    inner = path / part
    if part == "dataset" and _command(path) == "run" and (inner / "dataset").is_dir():
        inner = inner / "dataset"  # `ovtool run` writes each stage to OUT/<stage>/: OUT/dataset/dataset
    if inner.exists():
        return inner
    held = ", ".join(sorted(p.name for p in path.iterdir() if not p.name.startswith("."))) or "nothing"
    raise UserError(f"{path} is an ovtool output folder without a {part}/ folder (it holds {held}): give a {part}")


def _command(out: Path) -> str | None:
    """The command that published `out` (run.json's `command`), if it says."""
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("command") if isinstance(record, dict) else None


def resolve_out_input(value: str, part: OutPart) -> str:
    """`value` itself, or its OUT/<part> when it names an ovtool OUT folder.

    The one place model and dataset paths accept an OUT (the runner calls it for every model and
    dataset path a stage reads); hub ids and other non-paths pass through unchanged.
    """
    if not value or value.startswith("@") or "{" in value:
        return value
    inner = out_part(Path(value).expanduser(), part)
    return str(inner) if inner is not None else value
