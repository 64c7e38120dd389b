"""The weight-mix fact `generate` reads to choose a precision comes from the IR's XML text, not a built model:
the counts must be exactly what OpenVINO's own model reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ovtool.backends.genai.genai import ir_weight_mix, weights_compressed
from ovtool.backends.openvino.ir_info import read_model, weight_precisions
from ovtool.errors import UserError


@pytest.mark.slow
def test_xml_scan_equals_openvino_model(smollm2_fp16_ir: Path, smollm2_int4_ir: Path) -> None:
    for folder, compressed in ((smollm2_fp16_ir, False), (smollm2_int4_ir, True)):
        xml = folder / "openvino_model.xml"
        assert ir_weight_mix(xml) == weight_precisions(read_model(xml))
        assert weights_compressed(folder) is compressed


@pytest.mark.slow
def test_unreadable_layout_falls_back_to_openvino(smollm2_int4_ir: Path, tmp_path: Path) -> None:
    xml = smollm2_int4_ir / "openvino_model.xml"
    odd = tmp_path / "openvino_model.xml"  # a Const without element_type: the scan must not guess, OpenVINO says
    odd.write_text(re.sub(r'(type="Const"[^>]*>\s*<data )element_type=', r"\1element_kind=", xml.read_text(), count=1))
    (tmp_path / "openvino_model.bin").symlink_to(xml.with_suffix(".bin"))
    with pytest.raises(UserError, match="cannot read the OpenVINO IR"):  # the fallback: OpenVINO read it
        ir_weight_mix(odd)
