"""`ovtool tune`: bad input is one line and exit 2; a static IR is tuned (real timings, tiny model) and reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _tiny_ir(folder: Path) -> Path:
    """x[?, 64] → MatMul(64→48), f32."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 64], np.float32, name="x")
    weight = np.random.default_rng(0).standard_normal((48, 64)).astype(np.float32)
    folder.mkdir()
    ov.save_model(ov.Model([ops.matmul(x, ops.constant(weight), False, True)], [x], "tiny"),
                  folder / "openvino_model.xml", compress_to_fp16=False)  # fmt: skip
    return folder


@pytest.mark.parametrize(("args", "message"), [
    ((), "give the IR to tune with -m MODEL"),
    (("-m", "/nonexistent/ir"), "does not exist"),
    (("-m", "EMPTY"), "holds no OpenVINO IR"),
    (("-m", "IR", "--seconds", "0"), "--seconds must be above 0"),
    (("-m", "TINY", "--device", "NPUU"), "device NPUU is not available here"),
    (("-m", "TINY", "--shape", "1,3"), "--shape '1,3': expected [1,128] or NAME=[1,128]"),
])  # fmt: skip
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    paths = {"EMPTY": str(tmp_path / "empty"), "IR": str(tmp_path / "empty")}
    if "TINY" in args:
        paths["TINY"] = str(_tiny_ir(tmp_path / "tiny"))
    proc = run_cli("tune", *[paths.get(a, a) for a in args], env={"OVTOOL_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: ")
    assert not (tmp_path / "cache" / "tuning").exists()


def test_static_ir_tuned_stored_and_reused(tmp_path: Path) -> None:
    ir, env = _tiny_ir(tmp_path / "tiny"), {"OVTOOL_CACHE": str(tmp_path / "cache")}
    proc = run_cli("tune", "-m", ir, "--seconds", "0.2", "--goal", "throughput", "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(proc.stdout)
    assert record["source"] == "measured now" and record["kind"] == "static"
    axes = [row["axis"] for row in record["tried"]]
    assert axes[0] == "precision" and "hint / streams" in axes
    assert all(row["quality_ok"] for row in record["tried"] if row["settings"]["INFERENCE_PRECISION_HINT"] == "f32")
    chosen = [row for row in record["tried"] if row["chosen"]]
    assert chosen[-1]["settings"] == record["settings"] and all(r["fps"] > 0 for r in record["tried"])
    again = run_cli("tune", "-m", ir / "openvino_model.xml", env=env)  # the .xml names the same IR
    assert again.returncode == 0 and "measuring" not in again.stderr and "stored" in again.stderr
    assert again.stdout.splitlines()[0].split()[:3] == ["axis", "settings", "ms"]
    # a bad --shape is refused even when a choice is stored (it used to be ignored, exit 0)
    bad = run_cli("tune", "-m", ir, "--shape", "[1,x]", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --shape '[1,x]'"), bad.stderr
    # asking for the other goal measures again (and stores that); the stored throughput choice would be wrong
    latency = run_cli("tune", "-m", ir, "--seconds", "0.2", "--goal", "latency", "--json", env=env)
    assert latency.returncode == 0, latency.stderr[-2000:]
    assert "the stored choice is for --goal throughput: measuring for latency" in latency.stderr
    assert json.loads(latency.stdout)["source"] == "measured now" and json.loads(latency.stdout)["goal"] == "latency"
