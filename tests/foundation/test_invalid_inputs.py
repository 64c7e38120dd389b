"""Invalid models exit 2 with the real reason in one line, through the real CLI (issue #11 §5).

No library log lines (absl/glog, torch warnings with tracebacks) reach stderr unless -v, and no
argument is ever echoed back whole.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tests.conftest import run_cli

NOISE = ("Exception from src/", "Traceback", "absl", "E0000", "text_format.cc", "WARNING: All log messages")
VOC_ANNOTATION = (
    "<annotation><folder>VOC2012</folder><filename>2007_000027.jpg</filename>"
    "<size><width>486</width><height>500</height><depth>3</depth></size>"
    "<object><name>person</name><bndbox><xmin>174</xmin><ymin>101</ymin><xmax>349</xmax><ymax>351</ymax></bndbox>"
    "</object></annotation>\n"
)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_clean_error(proc: object, *needles: str) -> str:
    """Exit 2, one `error:` line holding every needle, no library noise anywhere on stderr."""
    stderr = proc.stderr  # type: ignore[attr-defined]
    assert proc.returncode == 2, stderr  # type: ignore[attr-defined]
    (line,) = error_lines(stderr)
    for needle in needles:
        assert needle in line, line
    for noise in NOISE:
        assert noise not in stderr, stderr
    return line


@pytest.fixture(scope="module")
def small_ir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real IR with weights (x · W + b, 64×64 f32 weights), saved by OpenVINO itself."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, 64], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    b = ops.constant(np.ones((1, 64), np.float32))
    y = ops.add(ops.matmul(x, w, False, False), b)
    folder = tmp_path_factory.mktemp("small-ir") / "model"
    folder.mkdir()
    ov.save_model(ov.Model([y], [x], "small"), str(folder / "openvino_model.xml"), compress_to_fp16=False)
    return folder


def ir_copy(small_ir: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in small_ir.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


@pytest.mark.parametrize("command", ["convert", "benchmark"])
def test_voc_annotation_xml_given_as_model(tmp_path: Path, command: str) -> None:
    xml = tmp_path / "2007_000027.xml"
    xml.write_text(VOC_ANNOTATION)
    proc = run_cli(command, "-m", xml, "-o", tmp_path / "out", "--dry-run")
    assert_clean_error(proc, str(xml), "not an OpenVINO IR", "<annotation>")
    proc = run_cli(command, "-m", xml, "-o", tmp_path / "out")  # the real run says the same
    assert_clean_error(proc, str(xml), "not an OpenVINO IR")


@pytest.mark.parametrize(
    "args",
    [
        ("generate", "-p", "hi"),
        ("quantize", "--weights", "int4_sym", "--group-size", "64", "--evaluation", "{text}"),
        ("benchmark",),
    ],
)
def test_truncated_gguf_fails_at_dry_run_of_commands_that_convert_it(tmp_path: Path, args: tuple[str, ...]) -> None:
    """The check `ovtool convert` makes of a GGUF, made by every command that converts its input first."""
    from tests.conftest import SHAKESPEARE_DIR, SMOLLM2_GGUF

    cut = tmp_path / "cut.gguf"
    with SMOLLM2_GGUF.open("rb") as f:
        cut.write_bytes(f.read(1 << 20))
    argv = [str(SHAKESPEARE_DIR) if a == "{text}" else a for a in args]
    proc = run_cli(argv[0], "-m", cut, "-o", tmp_path / "out", *argv[1:], "--dry-run")
    assert_clean_error(proc, str(cut), "truncated or corrupt GGUF")
    assert not (tmp_path / "out").exists()


def test_random_xml_is_not_xml(tmp_path: Path) -> None:
    xml = tmp_path / "notes.xml"
    xml.write_text("hello, this is not XML\n")
    assert_clean_error(run_cli("convert", "-m", xml, "-o", tmp_path / "out"), str(xml), "not XML")


def test_ir_without_its_bin(small_ir: Path, tmp_path: Path) -> None:
    model = ir_copy(small_ir, tmp_path / "model")
    (model / "openvino_model.bin").unlink()
    for command in ("convert", "benchmark"):
        proc = run_cli(command, "-m", model, "-o", tmp_path / f"out-{command}", "--dry-run")
        assert_clean_error(proc, str(model / "openvino_model.xml"), "openvino_model.bin is missing")


def test_ir_with_truncated_bin(small_ir: Path, tmp_path: Path) -> None:
    model = ir_copy(small_ir, tmp_path / "model")
    weights = model / "openvino_model.bin"
    full = weights.stat().st_size
    weights.write_bytes(weights.read_bytes()[: full // 2])
    proc = run_cli("benchmark", "-m", model / "openvino_model.xml", "-o", tmp_path / "out", "--dry-run")
    assert_clean_error(proc, str(weights), "truncated", f"{full // 2} bytes", str(full))
    assert run_cli("convert", "-m", model, "-o", tmp_path / "out2").returncode == 2


def test_ir_openvino_cannot_read_names_the_file_and_the_reason(tmp_path: Path) -> None:
    """A <net> that passes the cheap checks but OpenVINO rejects: its sentence, not 'core.cpp:84'."""
    xml = tmp_path / "broken.xml"
    xml.write_text(
        '<?xml version="1.0"?>\n<net name="broken" version="11"><layers>'
        '<layer id="0" name="x" type="Parameter" version="opset1"><data shape="1,3" element_type="f32"/>'
        "<output><port id=\"0\"><dim>1</dim><dim>3</dim></port></output></layer></layers><edges/></net>\n"
    )
    for command in ("benchmark", "convert"):
        args = ("--dry-run",) if command == "benchmark" else ()
        proc = run_cli(command, "-m", xml, "-o", tmp_path / f"out-{command}", *args)
        assert_clean_error(proc, "cannot read the OpenVINO IR", str(xml), "missing mandatory attribute")


def test_random_pt2(tmp_path: Path) -> None:
    model = tmp_path / "model.pt2"
    model.write_bytes(os.urandom(4096))
    for args in (("--dry-run",), ()):
        proc = run_cli("convert", "-m", model, "-o", tmp_path / "out", *args)
        assert_clean_error(proc, f"{model} is not a torch.export program (")


def test_zip_that_is_not_an_export_program(tmp_path: Path) -> None:
    model = tmp_path / "model.pt2"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("model/data.txt", "not a program")
    proc = run_cli("convert", "-m", model, "-o", tmp_path / "out")
    line = assert_clean_error(proc, f"{model} is not a torch.export program (")
    assert "warnings above" not in line  # torch's pointer to the log it wrote (which we keep off stderr)


@pytest.mark.parametrize("suffix", [".onnx", ".tflite"])
def test_random_bytes_model_keeps_library_logs_off_stderr(tmp_path: Path, suffix: str) -> None:
    model = tmp_path / f"random{suffix}"
    model.write_bytes(os.urandom(3000))
    proc = run_cli("convert", "-m", model, "-o", tmp_path / "out")
    assert_clean_error(proc, f"cannot read {suffix[1:]} model {model}")
    assert not (tmp_path / "out").exists()
    verbose = run_cli("convert", "-v", "-m", model, "-o", tmp_path / "out")  # -v: the library log, replayed
    assert verbose.returncode == 2
    assert "library log:" in verbose.stderr and "text_format" in verbose.stderr


def test_model_path_longer_than_the_os_allows(tmp_path: Path) -> None:
    name = "m" * 300 + ".onnx"  # one name over NAME_MAX (255)
    proc = run_cli("convert", "-m", tmp_path / name, "-o", tmp_path / "out")
    line = assert_clean_error(proc, "too long")
    assert name not in line and len(line) < 600


def test_huge_argument_is_never_echoed_back(tmp_path: Path) -> None:
    """A 100 000-character model argument (deep path): the error quotes at most ~200 characters of it."""
    deep = "/".join(["abcdefgh"] * 11_000)
    proc = run_cli("convert", "-m", deep, "-o", tmp_path / "out")
    line = assert_clean_error(proc, "too long")
    assert len(proc.stderr) < 1000, len(proc.stderr)
    assert "…" in line


def test_long_output_path(tmp_path: Path, small_ir: Path) -> None:
    out = tmp_path / ("o" * 300)
    proc = run_cli("convert", "-m", small_ir, "-o", out)
    line = assert_clean_error(proc, "too long")
    assert str(out) not in line


def test_error_table_words_real_openvino_errors(small_ir: Path, tmp_path: Path) -> None:
    """Callers that read an IR without ir_info (training, weights) still get OpenVINO's sentence, exit 2."""
    import openvino as ov

    from ovtool.error_map import describe_failure

    model = ir_copy(small_ir, tmp_path / "model")
    (model / "openvino_model.bin").unlink()
    with pytest.raises(RuntimeError) as caught:
        ov.Core().read_model(str(model / "openvino_model.xml"))
    assert str(caught.value).startswith("Exception from src/")
    message, code = describe_failure(caught.value)
    assert code == 2 and "bin file" in message and "Exception from" not in message and "Check '" not in message
    with pytest.raises(RuntimeError) as caught:  # not a read error: the work failed (1), still its sentence
        ov.Core().compile_model(ov.Core().read_model(str(small_ir / "openvino_model.xml")), "CPU", {"NO_SUCH": 1})
    message, code = describe_failure(caught.value)
    assert code == 1 and message.startswith("OpenVINO: ") and "src/" not in message.split("(run with")[0]
