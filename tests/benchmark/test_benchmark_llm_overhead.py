"""`ovtool benchmark` of one LLM costs what the plain openvino_genai loop costs (issue #14): the IR is
not built twice to be described, and a one-length run draws no plot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ovtool.artifacts import sha256_file
from ovtool.backends.genai.llm_bench import describe_llm_ir, stateful_xml
from ovtool.backends.openvino.ir_info import describe_ir
from ovtool.ir_folder import IRFolder
from tests.conftest import SHAKESPEARE_DIR, run_cli


def test_llm_ir_facts_from_the_files_equal_the_built_model(smollm2_fp16_ir: Path, smollm2_int4_ir: Path,
                                                           minilm_ir: Path) -> None:  # fmt: skip
    for folder in (smollm2_fp16_ir, smollm2_int4_ir):
        xml = IRFolder.at(folder).xml
        built = describe_ir(xml)
        assert stateful_xml(xml) and built["stateful"]
        cheap = describe_llm_ir(xml)
        assert cheap == {key: built[key] for key in cheap}
        assert set(cheap) >= {"size_bytes", "weight_precisions", "stateful"}  # what the records use
    static = IRFolder.find(minilm_ir)
    assert static is not None and not stateful_xml(static.xml) and not describe_ir(static.xml)["stateful"]


@pytest.mark.slow
def test_one_length_llm_benchmark_draws_nothing_and_hashes_through_the_index(smollm2_fp16_ir: Path,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "one"
    proc = run_cli("benchmark", "-m", smollm2_fp16_ir, "-o", out, "--set", "benchmark.prompt_lengths=[16]",
                   "--set", "benchmark.output_lengths=[4]", "--set", "benchmark.repeats=1",
                   "--set", f"benchmark.prompt_text={SHAKESPEARE_DIR}",
                   env={"PYTHONPROFILEIMPORTTIME": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.MULTILINE))
    assert "openvino_genai" in imported and "matplotlib" not in imported
    assert not (out / "report.html").exists()
    (record,) = json.loads((out / "run.json").read_text())["stages"][0]["details"]["models"]
    xml = IRFolder.at(smollm2_fp16_ir).xml
    assert record["ir_sha256"] == {p.name: sha256_file(p) for p in (xml, xml.with_suffix(".bin"))}
    assert record["weight_precisions"] == describe_ir(xml)["weight_precisions"]
