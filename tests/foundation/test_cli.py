"""The command contract, through the real entry point: exit codes, stdout/stderr, run folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import MINILM_DIR, NUDENET_ONNX, run_cli

HEAVY = ("openvino", "nncf", "optimum", "transformers", "torch", "datumaro", "openvino_genai")


def no_staging_left(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if p.name.startswith(".ovtool-staging-")]


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom ovtool.cli.main import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', ','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(proc.stdout.rsplit("LOADED ", 1)[1].strip().split(","))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "Commands" in proc.stdout


def test_every_design_command_exists() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in ("convert", "quantize", "prune", "distill", "benchmark", "generate", "dataset", "run", "recipe"):
        assert f"│ {name} " in proc.stdout  # a row of Rich help's Commands panel


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("ovtool ")


def test_dry_run_prints_resolved_recipe_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--set", "convert.weight_format=fp32", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)
    assert resolved["convert"]["weight_format"] == "fp32"
    assert resolved["model"] == str(NUDENET_ONNX)
    assert not out.exists()


def test_dry_run_catches_an_invalid_combination(tmp_path: Path) -> None:
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", tmp_path / "o", "--task", "fill-mask", "--dry-run")
    assert proc.returncode == 2
    assert "convert.task applies to Hugging Face" in proc.stderr


def test_convert_json_record_and_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)  # stdout is exactly the JSON record: no library noise
    assert record["status"] == "ok"
    (stage,) = record["stages"]
    assert stage["metrics"]["ir_size_mb"]["unit"] == "MiB"
    assert isinstance(stage["metrics"]["conversion_time_s"]["value"], float)
    assert record["inputs"]["model"]["sha256"]
    assert record["libraries"]["openvino"]
    assert sorted(p.name for p in out.iterdir()) == [".ovtool", "model", "recipe.yaml", "report.md", "run.json"]
    assert (out / "model" / "openvino_model.xml").exists()
    assert json.loads((out / "run.json").read_text())["recipe_sha256"] == record["recipe_sha256"]
    # recipe.yaml reproduces the run
    again = run_cli("run", out / "recipe.yaml", "-o", tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "convert" / "model" / "openvino_model.xml").exists()
    assert (tmp_path / "again" / "model" / "openvino_model.xml").exists()


def test_non_empty_output_refused_then_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out)
    assert proc.returncode == 2
    assert "not empty" in proc.stderr and "--overwrite" in proc.stderr
    assert (out / "keep.txt").read_text() == "precious"
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--overwrite")  # not ovtool's folder: kept
    assert proc.returncode == 2 and "not written by ovtool" in proc.stderr
    assert (out / "keep.txt").read_text() == "precious"
    (out / "keep.txt").unlink()
    assert run_cli("convert", "-m", NUDENET_ONNX, "-o", out).returncode == 0
    (out / "keep.txt").write_text("added to ovtool's folder")
    proc = run_cli("convert", "-m", NUDENET_ONNX, "-o", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "keep.txt").exists() and (out / "model" / "openvino_model.xml").exists()
    assert no_staging_left(tmp_path)


def test_failed_run_keeps_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("convert", "-m", NUDENET_ONNX, "-o", out).returncode == 0
    before = (out / "run.json").read_text()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(NUDENET_ONNX.read_bytes()[:5000])
    proc = run_cli("convert", "-m", bad, "-o", out, "--overwrite")
    assert proc.returncode == 2
    assert (out / "run.json").read_text() == before
    assert no_staging_left(tmp_path)


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    empty = tmp_path / "empty"
    empty.mkdir()
    unknown = tmp_path / "model.xyz"
    unknown.write_text("hello")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(NUDENET_ONNX.read_bytes()[:4096])
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(os.urandom(4096))
    fake_magic = tmp_path / "fake.gguf"
    fake_magic.write_bytes(b"GGUF" + os.urandom(4096))

    def recipe(text: str) -> str:
        path = tmp_path / f"r{abs(hash(text))}.yaml"
        path.write_text(text)
        return str(path)

    model = f"model: {NUDENET_ONNX}\n"
    return {
        "missing path": (["-m", str(tmp_path / "nope.onnx")], "model not found"),
        "missing relative file, not a hub id": (["-m", "models/llm.gguf"], "model not found"),
        "empty folder": (["-m", str(empty)], "model folder is empty"),
        "unknown format": (["-m", str(unknown)], "unknown model format"),
        "truncated onnx": (["-m", str(truncated)], "cannot read onnx model"),
        "garbage gguf": (["-m", str(garbage)], "not a GGUF file"),
        "corrupt gguf": (["-m", str(fake_magic)], "GGUF"),
        "unknown key": ([recipe(model + "convert: {wieght_format: fp16}\n")], "did you mean weight_format?"),
        "wrong type": ([recipe(model + "convert: {trust_remote_code: maybe}\n")], "convert.trust_remote_code"),
        "invalid enum": ([recipe(model + "convert: {weight_format: int13}\n")], "is not one of fp32, fp16, int8"),
        "yaml syntax": ([recipe(model + "convert: [\n")], "YAML error at line"),
        "non-mapping root": ([recipe("- a\n- b\n")], "top level must be a mapping"),
        "python tag": ([recipe("!!python/object/apply:os.getcwd []\n")], "tags are not allowed"),
        "missing recipe": ([str(tmp_path / "nope.yaml")], "recipe file not found"),
    }


@pytest.mark.slow
def test_bad_inputs_exit_2_with_one_clear_line(tmp_path: Path) -> None:
    for name, (args, message) in _bad_inputs(tmp_path).items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        proc = run_cli("convert", *args, "-o", out)
        assert proc.returncode == 2, (name, proc.returncode, proc.stderr)
        assert message in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr, name
        assert proc.stderr.count("error:") == 1, (name, proc.stderr)
        assert not out.exists(), name
    assert no_staging_left(tmp_path)


def test_debug_env_shows_traceback(tmp_path: Path) -> None:
    proc = run_cli("convert", "-m", tmp_path / "nope.onnx", "-o", tmp_path / "o", env={"OVTOOL_DEBUG": "1"})
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


def test_unknown_command_is_a_usage_error() -> None:
    proc = run_cli("konvert")
    assert proc.returncode == 2


@pytest.mark.slow
def test_ctrl_c_exits_130_and_publishes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("ovtool")
    proc = subprocess.Popen(
        [str(exe), "convert", "-m", str(MINILM_DIR), "-o", str(out), "--no-cache"],  # real work to interrupt
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and no_staging_left(tmp_path):
        time.sleep(0.1)
    time.sleep(1.5)  # inside the export now
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not out.exists()
    assert no_staging_left(tmp_path)


def test_recipe_commands(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(f"model: {NUDENET_ONNX}\nconvert: {{weight_format: fp16}}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("convert: {weight_format: int13, colour: red}\n")
    proc = run_cli("recipe", "validate", good, bad)
    assert proc.returncode == 2
    assert f"{good}: ok" in proc.stdout
    assert "2 problems" in proc.stderr and "convert.colour: unknown key" in proc.stderr
    shown = run_cli("recipe", "show", good, "--set", "convert.weight_format=int8")
    assert shown.returncode == 0 and yaml.safe_load(shown.stdout)["convert"]["weight_format"] == "int8"
    schema = json.loads(run_cli("recipe", "schema").stdout)
    assert "convert" in schema["properties"] and schema["additionalProperties"] is False
    starter = tmp_path / "starter.yaml"
    assert run_cli("recipe", "init", "convert", "-o", starter).returncode == 0
    assert run_cli("recipe", "validate", starter).returncode == 0
    assert run_cli("recipe", "init", "convert", "-o", starter).returncode == 2
    assert run_cli("recipe", "init", "nonsense").returncode == 2


@pytest.mark.parametrize(("target", "message"), [
    ("missing/starter.yaml", "the folder {tmp}/missing does not exist"),
    ("folder", "{tmp}/folder is a folder: give the recipe file to write with -o, e.g. -o {tmp}/folder/convert.yaml"),
])  # fmt: skip
def test_recipe_init_to_an_impossible_path_is_one_line_exit_2(target: str, message: str, tmp_path: Path) -> None:
    """Was exit 1 with a FileNotFoundError/IsADirectoryError; even with --overwrite nothing is written."""
    (tmp_path / "folder").mkdir()
    proc = run_cli("recipe", "init", "convert", "-o", tmp_path / target, "--overwrite")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error: ")
    assert message.format(tmp=tmp_path) in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["folder"]
