"""A one-answer `ovtool generate` loads nothing a single answer does not need (issue #14), and still
publishes the whole run record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ovtool.cache.keys import library_versions
from tests.conftest import run_cli

NOT_NEEDED = ("psutil", "rich.console", "xml.etree.ElementTree", "matplotlib", "ovtool.junit")


@pytest.mark.slow
def test_generate_imports_only_what_one_answer_needs(smollm2_fp16_ir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("generate", "-m", smollm2_fp16_ir, "-p", "What is the capital of France?", "--max-new-tokens", "4",
                   "--no-cache", "-o", out, env={"PYTHONPROFILEIMPORTTIME": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.MULTILINE))
    assert "openvino_genai" in imported  # the listing is real
    assert not imported & set(NOT_NEEDED)
    run = json.loads((out / "run.json").read_text())
    assert run["libraries"]["openvino"] == library_versions(["openvino"])["openvino"]
    assert run["stages"][0]["metrics"]["peak_rss_mb"]["value"] > 100  # /proc-based sampling saw the model
