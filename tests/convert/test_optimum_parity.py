"""`ovtool convert` takes what users type to `optimum-cli export openvino` (issue #15 §4, docs/convert.md).

Flags land on `convert:` keys and become the NNCF options they mean; combinations optimum or NNCF would
reject late exit 2 at validation with one line; real runs check the weights inside the IR itself.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ovtool.recipe.sections.convert import ConvertSection
from tests.conftest import BBC_DIR, MINILM_DIR, NUDENET_ONNX, SMOLLM2_GGUF, run_cli


def const_types(xml: Path) -> Counter[str]:
    """Weight elements per element type, read from the IR's Const layers (not from ovtool's own report)."""
    counts: Counter[str] = Counter()
    for layer in ET.parse(xml).getroot().iter("layer"):
        data = layer.find("data")
        if layer.get("type") != "Const" or data is None:
            continue
        size = 1
        for dim in filter(None, (data.get("shape") or "").split(",")):
            size *= int(dim)
        if size >= 16:
            counts[data.get("element_type", "?")] += size
    return counts


def u4_group_sizes(xml: Path) -> set[int]:
    """The last dimension of the 4-bit weight Consts [out, groups, group size] (zero points end in 1)."""
    sizes = set()
    for layer in ET.parse(xml).getroot().iter("layer"):
        data = layer.find("data")
        if layer.get("type") == "Const" and data is not None and data.get("element_type") in ("u4", "i4"):
            dims = [int(d) for d in (data.get("shape") or "").split(",") if d]
            if len(dims) == 3 and dims[-1] > 1:
                sizes.add(dims[-1])
    return sizes


def test_optimum_cli_flags_resolve_to_convert_keys(tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = tmp_path / "calibration.txt"
    text.write_text("a line of calibration text\n" * 8)
    proc = run_cli(
        "convert", "-m", NUDENET_ONNX, "-o", out, "--weight-format", "int4", "--sym", "--group-size", "32",
        "--ratio", "0.8", "--all-layers", "--backup-precision", "int8_sym", "--group-size-fallback", "adjust",
        "--awq", "--scale-estimation", "--sensitivity-metric", "hessian_input_activation",
        "--dataset", text, "--num-samples", "8", "--dry-run",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    section = yaml.safe_load(proc.stdout)["convert"]
    assert {k: section[k] for k in ("weight_format", "sym", "group_size", "ratio", "all_layers", "backup_precision",
                                    "group_size_fallback", "awq", "scale_estimation", "sensitivity_metric")} == {
        "weight_format": "int4", "sym": True, "group_size": 32, "ratio": 0.8, "all_layers": True,
        "backup_precision": "int8_sym", "group_size_fallback": "adjust", "awq": True, "scale_estimation": True,
        "sensitivity_metric": "hessian_input_activation",
    }  # fmt: skip
    assert section["dataset"]["path"] == str(text) and section["dataset"]["samples"] == 8
    assert not out.exists()
    spec = ConvertSection.model_validate(section).weights_spec()
    assert spec is not None
    assert (spec.mode, spec.group_size, spec.ratio, spec.backup_mode, spec.subset_size) == (
        "int4_sym", 32, 0.8, "int8_sym", 8
    )


@pytest.mark.parametrize(
    ("fmt", "sym", "mode"),
    [("int4", None, "int4_asym"), ("int4", True, "int4_sym"), ("int8", None, "int8_asym"), ("int8", True, "int8_sym"),
     ("nf4", None, "nf4"), ("mxfp4", None, "mxfp4"), ("cb4", None, "cb4"), ("fp16", None, None), (None, None, None)],
)  # fmt: skip
def test_weight_format_is_the_nncf_mode_optimum_uses(fmt: str | None, sym: bool | None, mode: str | None) -> None:
    spec = ConvertSection(weight_format=fmt, sym=sym).weights_spec()
    assert (spec.mode if spec is not None else None) == mode


def run_main(*args: str | Path) -> tuple[int, str]:
    """The real entry point in this process (validation needs no subprocess): exit code and stderr."""
    from typer.testing import CliRunner

    from ovtool.cli import main as cli_main

    with CliRunner().isolation() as (_, err, _):
        try:
            cli_main.main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, err.getvalue().decode()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--awq"], "set weight_format"),
        (["--weight-format", "fp16", "--awq"], "do not apply to weight_format fp16"),
        (["--weight-format", "int8", "--group-size", "64"], "remove group_size"),
        (["--weight-format", "int8", "--ratio", "0.5"], "remove ratio"),
        (["--weight-format", "int4", "--scale-estimation"], "set dataset"),
        (["--weight-format", "int4", "--gptq"], "set dataset"),
        (["--weight-format", "mxfp4", "--awq"], "awq cannot be combined with mode mxfp4"),
        (["--weight-format", "nf4", "--sym"], "sym applies to int8 and int4"),
        (["--weight-format", "int4", "--ratio", "1.5"], "ratio must be in (0, 1]"),
        (["--weight-format", "int4", "--dataset", "wikitext2"], "reads local data only"),
        (["--weight-format", "int4", "--awq", "--dataset", "/no/such/text"], "not found"),
        (["--library", "transformers"], "applies to Hugging Face models, not to onnx"),
    ],
)
def test_invalid_combinations_exit_2_in_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "out"
    code, err = run_main("convert", "-m", NUDENET_ONNX, "-o", out, *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert not out.exists()


def test_group_size_that_divides_no_layer_fails_before_work_on_an_ir(tmp_path: Path) -> None:
    import numpy as np
    import openvino as ov

    x = ov.opset13.parameter([1, 48], ov.Type.f32, name="x")
    weight = ov.opset13.constant(np.ones((48, 16), dtype=np.float32))
    ov.save_model(ov.Model([ov.opset13.matmul(x, weight, False, False)], [x]), tmp_path / "m.xml")
    code, err = run_main("convert", "-m", tmp_path / "m.xml", "-o", tmp_path / "o", "--weight-format", "int4",
                         "--group-size", "32", "--dry-run")  # fmt: skip
    assert code == 2 and "convert.group_size 32 does not divide the input channels [48]" in err, err
    assert "convert.group_size_fallback" in err


def test_group_size_that_does_not_divide_the_llm_fails_before_export(tmp_path: Path) -> None:
    """SmolLM2-135M's hidden size is 576: NNCF's default group of 128 would fail after the whole export."""
    code, err = run_main("convert", "-m", SMOLLM2_GGUF, "-o", tmp_path / "o", "--weight-format", "int4")
    assert code == 2 and "convert.group_size 128 does not divide the model's hidden/MLP sizes [576]" in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_onnx_source_with_int8_weights(tmp_path: Path) -> None:
    out = tmp_path / "int8"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--weight-format", "int8", "--no-cache", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    types = const_types(out / "model" / "openvino_model.xml")
    assert types["u8"] / sum(types.values()) > 0.95, types
    details = json.loads(proc.stdout)["stages"][0]["details"]
    assert details["weight_compression"]["mode"] == "int8_asym"
    assert details["weight_compression"]["data_aware"] is False


@pytest.mark.slow
def test_hf_export_with_static_shapes_and_data_aware_int4(tmp_path: Path) -> None:
    out = tmp_path / "minilm"
    proc = run_cli(
        "convert", "-m", MINILM_DIR, "-o", out, "--task", "feature-extraction", "--shape", "input_ids=[1,128]",
        "--shape", "attention_mask=[1,128]", "--shape", "token_type_ids=[1,128]", "--weight-format", "int4",
        "--group-size", "32", "--scale-estimation", "--dataset", BBC_DIR, "--num-samples", "4", "--no-cache", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    xml = out / "model" / "openvino_model.xml"
    shapes = {p.get("name"): p.find("data").get("shape") for p in ET.parse(xml).getroot().iter("layer")  # type: ignore[union-attr]
              if p.get("type") == "Parameter"}  # fmt: skip
    assert shapes == {"input_ids": "1,128", "attention_mask": "1,128", "token_type_ids": "1,128"}
    assert const_types(xml)["u4"] > 0 and u4_group_sizes(xml) == {32}
    compression = json.loads(proc.stdout)["stages"][0]["details"]["weight_compression"]
    assert compression["data_aware"] is True and compression["calibration"]["samples"] == 4


@pytest.mark.slow
def test_gguf_to_int4_ir_in_one_command(tmp_path: Path) -> None:
    out = tmp_path / "int4"
    proc = run_cli("convert", "-m", SMOLLM2_GGUF, "-o", out, "--weight-format", "int4", "--group-size", "64",
                   "--ratio", "0.8", "--no-cache", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    xml = out / "model" / "openvino_model.xml"
    types = const_types(xml)
    assert u4_group_sizes(xml) == {64}
    assert types["u4"] > types["u8"] > 0  # 80% of layers in int4 groups of 64, the rest (and embeddings) int8
    assert types["u4"] + types["u8"] > 0.95 * sum(types.values()), types
    assert (out / "model" / "openvino_tokenizer.xml").exists()
    stage = json.loads(proc.stdout)["stages"][0]
    compression = stage["details"]["weight_compression"]
    assert (compression["mode"], compression["group_size"], compression["ratio"]) == ("int4_asym", 64, 0.8)
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())["convert"]
    assert (recipe["weight_format"], recipe["group_size"], recipe["ratio"]) == ("int4", 64, 0.8)


@pytest.mark.slow
def test_list_tasks_prints_optimum_intel_tasks() -> None:
    proc = run_cli("convert", "--list-tasks")
    assert proc.returncode == 0, proc.stderr[-2000:]
    tasks = {line.split("\t")[0] for line in proc.stdout.splitlines()}
    assert {"text-generation-with-past", "feature-extraction", "image-classification"} <= tasks
