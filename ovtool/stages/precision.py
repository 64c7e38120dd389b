"""Which INFERENCE_PRECISION_HINT an LLM runs with: policy, so it lives in the stage layer.

generate, `generate --chat`, quantize's LLM timing and `benchmark --precision auto` all ask the same
question ("how would `ovtool generate` run this IR?"), so they share one answer. The backend only
supplies the facts the rule reads (are the weights compressed? see `ovtool.backends.genai.genai`).
"""

from __future__ import annotations

from pathlib import Path

from ovtool.backends.genai.genai import weights_compressed
from ovtool.recipe.sections.generate import GenerateSection, PerformanceSection


def choose_precision(
    perf: PerformanceSection, device: str, model_dir: Path, *, exact_speculative: bool
) -> tuple[str | None, str]:
    """(INFERENCE_PRECISION_HINT to set or None, why) for the recipe's `inference_precision`.

    `auto` exists because the CPU's bf16 default is the slow choice for decoding weight-compressed LLMs:
    with f32 activations the CPU plugin quantizes activations dynamically and runs int8 kernels on the
    int4/int8 weights (SmolLM2 INT4 on this Xeon: 8.1 vs 12.0 ms per token), while bf16 decompresses the
    weights first. The price is a slower prefill on long prompts (about 1.6x TTFT at 1,900 tokens), and
    fp16 IRs decode faster in bf16, so they keep the device default. Greedy speculative decoding also asks
    for f32: its multi-token verification rounds differently from one-token steps in bf16 and flips
    near-tied tokens, and a speculative result must equal plain decoding.
    """
    choice = perf.inference_precision
    if "INFERENCE_PRECISION_HINT" in perf.properties:  # the raw property wins over the named key
        return str(perf.properties["INFERENCE_PRECISION_HINT"]), "asked for in performance.properties"
    if choice == "default":
        return None, "device default (asked for)"
    if choice != "auto":
        return choice, "asked for in the recipe"
    if not device.upper().startswith("CPU"):
        return None, f"auto: device default on {device}"
    if exact_speculative:
        return "f32", "auto: f32 so greedy speculative output equals plain greedy output"
    if weights_compressed(model_dir):
        return "f32", "auto: f32 decodes weight-compressed IRs faster on CPU (dynamic int8 activations)"
    return None, "auto: device default (uncompressed weights decode faster in the default precision)"


def precision_for(section: GenerateSection, model_dir: Path) -> tuple[str | None, str]:
    """`choose_precision` for a generate section: what `ovtool generate` runs this IR with, and why.

    quantize and benchmark time LLMs with `precision_for(GenerateSection(), folder)` — the way users run them.
    """
    exact = section.speculative is not None and not section.do_sample
    return choose_precision(section.performance, section.device, model_dir, exact_speculative=exact)
