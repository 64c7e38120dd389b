"""Generate fixtures: prompts, and an IR folder without its tokenizer IRs (the INT4 draft is in tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROMPTS_JSONL = Path(__file__).with_name("prompts.jsonl")


@pytest.fixture(scope="session")
def ir_without_tokenizer(smollm2_fp16_ir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("no-tokenizer")
    for name in ("openvino_model.xml", "openvino_model.bin", "config.json"):
        shutil.copy(smollm2_fp16_ir / name, folder / name)
    return folder
