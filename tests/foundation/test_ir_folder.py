"""IRFolder.find and OUT-as-input resolution on real folders laid out in tmp (no OpenVINO needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovtool.errors import UserError
from ovtool.ir_folder import IRFolder, is_ovtool_out, out_part, resolve_out_input
from ovtool.out_policy import write_marker


def _ir(folder: Path, name: str = "openvino_model", tokenizer: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.xml").write_text('<?xml version="1.0"?>\n<net name="m" version="11"></net>\n')
    (folder / f"{name}.bin").write_bytes(b"\0" * 8)
    if tokenizer:
        for part in ("openvino_tokenizer", "openvino_detokenizer"):
            (folder / f"{part}.xml").write_text("<net/>")
            (folder / f"{part}.bin").write_bytes(b"")
    return folder / f"{name}.xml"


def _out(tmp_path: Path, *, marker: bool = True, command: str = "convert") -> Path:
    out = tmp_path / "out"
    out.mkdir()
    if marker:
        write_marker(out)
    (out / "run.json").write_text(json.dumps({"ovtool_version": "0", "command": command, "stages": []}))
    return out


def test_folder_with_openvino_model_xml(tmp_path: Path) -> None:
    xml = _ir(tmp_path / "ir", tokenizer=True)
    _ir(tmp_path / "ir", name="other")  # openvino_model.xml wins over any other IR beside it
    ir = IRFolder.find(tmp_path / "ir")
    assert ir == IRFolder(root=tmp_path / "ir", xml=xml)
    assert ir.bin == tmp_path / "ir" / "openvino_model.bin"
    assert ir.has_tokenizer and ir.missing_tokenizer_files == []
    assert ir.tokenizer_xml.name == "openvino_tokenizer.xml"
    assert ir.detokenizer_xml.name == "openvino_detokenizer.xml"
    assert ir.config_json == tmp_path / "ir" / "config.json"
    assert ir.generation_config == tmp_path / "ir" / "generation_config.json"


def test_only_xml_with_a_bin_beside_it(tmp_path: Path) -> None:
    xml = _ir(tmp_path / "ir", name="320n")
    (tmp_path / "ir" / "annotations.xml").write_text("<annotations/>")  # no .bin: not an IR
    ir = IRFolder.find(tmp_path / "ir")
    assert ir is not None and ir.xml == xml and not ir.has_tokenizer
    assert ir.missing_tokenizer_files == ["openvino_tokenizer.xml", "openvino_detokenizer.xml"]


def test_xml_file_given_directly(tmp_path: Path) -> None:
    xml = _ir(tmp_path / "ir", name="model")
    assert IRFolder.find(xml) == IRFolder(root=tmp_path / "ir", xml=xml)


def test_no_ir(tmp_path: Path) -> None:
    _ir(tmp_path / "two", name="a")
    _ir(tmp_path / "two", name="b")  # two candidates, no openvino_model.xml: ambiguous
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert IRFolder.find(tmp_path / "two") is None
    assert IRFolder.find(tmp_path / "hf") is None
    assert IRFolder.find(tmp_path / "missing") is None
    assert IRFolder.find(tmp_path / "hf" / "config.json") is None


def test_at_names_the_written_ir(tmp_path: Path) -> None:
    ir = IRFolder.at(tmp_path / "model")
    assert ir.xml == tmp_path / "model" / "openvino_model.xml" and ir.bin.name == "openvino_model.bin"


def test_ovtool_out_resolves_to_its_model(tmp_path: Path) -> None:
    out = _out(tmp_path)
    xml = _ir(out / "model", tokenizer=True)
    ir = IRFolder.find(out)
    assert ir == IRFolder(root=out / "model", xml=xml) and ir.has_tokenizer
    assert resolve_out_input(str(out), "model") == str(out / "model")


def test_older_out_with_only_run_json(tmp_path: Path) -> None:
    out = _out(tmp_path, marker=False)
    _ir(out / "model")
    assert is_ovtool_out(out)
    assert IRFolder.find(out) is not None


def test_run_out_model_is_a_link_to_the_last_stage(tmp_path: Path) -> None:
    out = _out(tmp_path, command="run")
    xml = _ir(out / "quantize" / "model")
    (out / "model").symlink_to("quantize/model", target_is_directory=True)
    ir = IRFolder.find(out)
    assert ir is not None and ir.xml.resolve() == xml.resolve()


def test_out_as_dataset(tmp_path: Path) -> None:
    out = _out(tmp_path)
    (out / "dataset").mkdir()
    assert out_part(out, "dataset") == out / "dataset"
    assert resolve_out_input(str(out), "dataset") == str(out / "dataset")


def test_run_out_dataset_lives_in_the_stage_folder(tmp_path: Path) -> None:
    out = _out(tmp_path, command="run")
    (out / "dataset" / "dataset").mkdir(parents=True)
    assert resolve_out_input(str(out), "dataset") == str(out / "dataset" / "dataset")


def test_out_without_the_part_asked_for_is_invalid_input(tmp_path: Path) -> None:
    out = _out(tmp_path, command="benchmark")
    (out / "report.md").write_text("")
    with pytest.raises(UserError, match=r"ovtool output folder without a model/ folder \(it holds report.md, run.json"):
        IRFolder.find(out)
    with pytest.raises(UserError, match="without a dataset/ folder"):
        resolve_out_input(str(out), "dataset")


def test_other_values_pass_through(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "run.json").write_text('{"not": "ovtool"}')  # someone else's run.json: not an OUT
    assert not is_ovtool_out(plain)
    for value in (str(plain), "org/model", "@dataset/train", "{model}", "", str(tmp_path / "missing")):
        assert resolve_out_input(value, "model") == value
