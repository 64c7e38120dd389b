"""Generate fixtures: the SmolLM2 INT4 draft (a lower-precision copy of the FP16 target, as gpt-fast does)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROMPTS_JSONL = Path(__file__).with_name("prompts.jsonl")


def compress_int4(src: Path, dst: Path, group_size: int = 64) -> Path:
    """INT4_SYM weights (ratio 1.0) of an IR folder, tokenizer IRs and configs copied beside it."""
    import nncf
    import openvino as ov

    shutil.copytree(src, dst)
    model = ov.Core().read_model(src / "openvino_model.xml")
    compressed = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT4_SYM, group_size=group_size, ratio=1.0)
    ov.save_model(compressed, dst / "openvino_model.xml")
    return dst


@pytest.fixture(scope="session")
def smollm2_int4_ir(smollm2_fp16_ir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compress_int4(smollm2_fp16_ir, tmp_path_factory.mktemp("smollm2-int4") / "model")


@pytest.fixture(scope="session")
def ir_without_tokenizer(smollm2_fp16_ir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("no-tokenizer")
    for name in ("openvino_model.xml", "openvino_model.bin", "config.json"):
        shutil.copy(smollm2_fp16_ir / name, folder / name)
    return folder
