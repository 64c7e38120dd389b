"""ISA features from an injected capability set, the INT8-without-VNNI warning of quantize, and `ovtool env`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovtool.backends.openvino import cpu_caps
from ovtool.context import StageContext
from ovtool.recipe.sections.quantize import QuantizeSection
from ovtool.stages import quantize
from tests.conftest import SHAKESPEARE_DIR, run_cli

AVX2_ONLY = frozenset({"avx2", "FP32", "INT8", "BIN"})  # OpenVINO says INT8 on AVX2 too: the flags decide
AVX512_VNNI = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "BF16", "FP32", "INT8"})
HELD_OUT = {"path": str(SHAKESPEARE_DIR)}  # preflight refuses a quantize with no data (calibration or held-out)
AMX = frozenset({"avx2", "avx512f", "amx_tile", "amx_int8", "amx_bf16", "BF16", "FP16", "FP32", "INT8"})


def test_features_from_capability_sets() -> None:
    assert cpu_caps.features(AVX2_ONLY) == {"AVX2": True, "AVX-512": False, "VNNI": False, "AMX": False,
                                            "BF16": False, "FP16": False}  # fmt: skip
    assert cpu_caps.features(AVX512_VNNI)["VNNI"] and not cpu_caps.features(AVX512_VNNI)["AMX"]
    assert cpu_caps.features(frozenset({"avx2", "avx_vnni"}))["VNNI"]  # AVX-VNNI (Alder Lake and later)
    assert [cpu_caps.int8_dot_product(c) for c in (AVX2_ONLY, AVX512_VNNI, AMX)] == [False, True, True]
    assert cpu_caps.supported_precisions(AVX2_ONLY) == ["f32"]
    assert cpu_caps.supported_precisions(AVX512_VNNI) == ["f32", "bf16"]
    assert cpu_caps.supported_precisions(AMX) == ["f32", "bf16", "f16"]


def _preflight_warnings(caps: frozenset[str] | None, section: QuantizeSection, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:  # fmt: skip
    monkeypatch.setattr(cpu_caps, "host", lambda: None if caps is None else ("Injected CPU", caps))
    quantize.preflight(section, StageContext(stage="quantize", work_dir=tmp_path))
    return capsys.readouterr().err


@pytest.mark.parametrize(("caps", "warned"), [(AVX2_ONLY, True), (AVX512_VNNI, False), (AMX, False), (None, False)])
def test_int8_ptq_warning_follows_the_cpu(caps: frozenset[str] | None, warned: bool, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    section = QuantizeSection.model_validate({"calibration": HELD_OUT})  # INT8 PTQ (the defaults)
    err = _preflight_warnings(caps, section, tmp_path, monkeypatch, capsys)
    assert ("no int8 dot-product instructions" in err) is warned
    if warned:
        assert "Injected CPU" in err


def test_no_ptq_warning_for_weight_compression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    weights = {"mode": "int4_sym", "group_size": 64}
    section = QuantizeSection.model_validate({"weights": weights, "evaluation": HELD_OUT})
    assert "dot-product" not in _preflight_warnings(AVX2_ONLY, section, tmp_path, monkeypatch, capsys)


def test_env_json_names_cpu_features_versions_and_store(tmp_path: Path) -> None:
    proc = run_cli("env", "--json", env={"OVTOOL_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    probed = cpu_caps.probe("CPU")
    assert info["name"] == probed.name and info["features"] == probed.features
    assert info["int8_dot_product"] == cpu_caps.int8_dot_product(probed.capabilities)
    assert info["versions"]["openvino"] and info["versions"]["nncf"]
    assert info["defaults"]["inference_precision"] == probed.default_precision
    assert info["stored_tuning_choices"] == 0 and info["cache_folder"] == str(tmp_path / "cache")
    text = run_cli("env", env={"OVTOOL_CACHE": str(tmp_path / "cache")})
    assert text.returncode == 0 and probed.name in text.stdout and "VNNI" in text.stdout
