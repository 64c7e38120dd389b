"""The quantize report's perplexity is the usual one: cross-checked against optimum-intel's OVModelForCausalLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ASSETS

PLAY = ASSETS / "shakespeare" / "plays" / "tragedies" / "hamlet.md"


@pytest.mark.slow
def test_perplexity_matches_optimum_intel_logits(smollm2_fp16_ir: Path) -> None:
    """Same chunks, same IR, f32: ovtool's one-prefill-per-chunk perplexity equals exp(mean cross-entropy)
    computed from OVModelForCausalLM's logits (the model users load) — within 0.5%."""
    import numpy as np
    import torch
    from optimum.intel import OVModelForCausalLM
    from transformers import AutoTokenizer

    from ovtool.backends.openvino import quality
    from ovtool.backends.openvino.ir_info import describe_ir
    from ovtool.data.calibration import describe_inputs, llm_item

    xml = smollm2_fp16_ir / "openvino_model.xml"
    ids = AutoTokenizer.from_pretrained(smollm2_fp16_ir)(PLAY.read_text()[:20000])["input_ids"]
    chunks = [ids[i : i + 128] for i in range(0, 4 * 128, 128)]
    io = describe_inputs(xml, describe_ir(xml))
    ours = quality.perplexity(quality.compile_model(xml, "f32"), [llm_item(c, io) for c in chunks])

    model = OVModelForCausalLM.from_pretrained(smollm2_fp16_ir, ov_config={"INFERENCE_PRECISION_HINT": "f32"},
                                               use_cache=True)  # fmt: skip
    nll, count = 0.0, 0
    for chunk in chunks:
        input_ids = torch.tensor([chunk])
        logits = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits
        loss = torch.nn.functional.cross_entropy(logits[0, :-1].float(), input_ids[0, 1:])  # next-token shift
        nll += float(loss) * (len(chunk) - 1)
        count += len(chunk) - 1
    theirs = float(np.exp(nll / count))
    assert 1.0 < ours < 1000.0
    assert ours == pytest.approx(theirs, rel=5e-3)
