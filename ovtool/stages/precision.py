"""Which INFERENCE_PRECISION_HINT an LLM runs with: policy, so it lives in the stage layer.

generate, `generate --chat`, quantize's LLM timing and `benchmark --precision auto` all ask the same
question ("how would `ovtool generate` run this IR?"), so they share one answer. The backend only
supplies the facts the rule reads (are the weights compressed? see `ovtool.backends.genai.genai`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool.backends.genai.genai import weights_compressed
from ovtool.recipe.sections.generate import GenerateSection, PerformanceSection

# Recipe settings that name a property a stored tuning may also hold: the recipe's wins.
RECIPE_KEYS = {"KV_CACHE_PRECISION": "kv_cache_precision", "INFERENCE_NUM_THREADS": "threads",
               "NUM_STREAMS": "streams", "PERFORMANCE_HINT": "hint"}  # fmt: skip


@dataclass
class PrecisionChoice:
    """What an LLM runs with and why: INFERENCE_PRECISION_HINT (None: the device's default), the other
    device properties a stored tuning adds, and the source ("asked", "stored", "rule")."""

    precision: str | None
    why: str
    source: str
    properties: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """For run.json: the chosen settings and where they came from."""
        return {"inference_precision": self.precision or "device default", "properties": self.properties,
                "source": self.source, "why": self.why}  # fmt: skip


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
    choice = choose(perf, device, model_dir, exact_speculative=exact_speculative)
    return choice.precision, choice.why


def choose(perf: PerformanceSection, device: str, model_dir: Path, *, exact_speculative: bool) -> PrecisionChoice:
    """`choose_precision` with its source and, for `auto`, the stored tuning's other properties.

    `auto` takes the choice `ovtool tune` measured for this IR on this CPU, OpenVINO version and device
    when one is stored (a cheap lookup: no IR parsing, docs/tune.md). Without one it falls back to the
    rule below instead of measuring inside `generate`: a one-off answer must not pay a tuning run
    (seconds per candidate, many times the answer itself), and the same command should print the same
    text on its first and second call. `ovtool tune -m IR` measures once; every later run reuses it.
    """
    if "INFERENCE_PRECISION_HINT" in perf.properties or perf.inference_precision != "auto":
        precision, why = _asked(perf)
        return PrecisionChoice(precision, why, "asked")
    on_cpu = device.upper().startswith("CPU")
    if exact_speculative and on_cpu:
        return PrecisionChoice("f32", "auto: f32 so greedy speculative output equals plain greedy output", "rule")
    from ovtool.tuning.api import stored

    tuned = None if exact_speculative else stored(model_dir, device)
    if tuned is not None and tuned.record.get("kind") == "llm":
        settings = dict(tuned.settings)
        precision = settings.pop("INFERENCE_PRECISION_HINT", None)
        extra = {k: v for k, v in settings.items()
                 if k not in perf.properties and getattr(perf, RECIPE_KEYS.get(k, ""), None) is None}  # fmt: skip
        shown = " ".join(f"{k}={v}" for k, v in extra.items())
        why = f"auto: measured by `ovtool tune` on this CPU (stored): {precision or 'device default'} {shown}"
        return PrecisionChoice(precision, why.strip(), "stored", extra)
    if not on_cpu:
        return PrecisionChoice(None, f"auto: device default on {device}", "rule")
    if weights_compressed(model_dir):
        return PrecisionChoice("f32", "auto: f32 decodes weight-compressed IRs faster on CPU (dynamic int8 "
                               "activations; no stored tuning — `ovtool tune` measures it)", "rule")  # fmt: skip
    return PrecisionChoice(None, "auto: device default (uncompressed weights decode faster in the default precision; "
                           "no stored tuning — `ovtool tune` measures it)", "rule")  # fmt: skip


def _asked(perf: PerformanceSection) -> tuple[str | None, str]:
    if "INFERENCE_PRECISION_HINT" in perf.properties:  # the raw property wins over the named key
        return str(perf.properties["INFERENCE_PRECISION_HINT"]), "asked for in performance.properties"
    if perf.inference_precision == "default":
        return None, "device default (asked for)"
    return perf.inference_precision, "asked for in the recipe"


def precision_for(section: GenerateSection, model_dir: Path) -> tuple[str | None, str]:
    """`choose_precision` for a generate section: what `ovtool generate` runs this IR with, and why.

    quantize and benchmark time LLMs with `precision_for(GenerateSection(), folder)` — the way users run them.
    """
    choice = choice_for(section, model_dir)
    return choice.precision, choice.why


def choice_for(section: GenerateSection, model_dir: Path) -> PrecisionChoice:
    """`choose` for a generate section: precision, the stored tuning's properties, source (for run.json)."""
    exact = section.speculative is not None and not section.do_sample
    return choose(section.performance, section.device, model_dir, exact_speculative=exact)


def ptq_warning(capabilities: frozenset[str] | None, cpu_name: str) -> str | None:
    """The warning for INT8 activations (PTQ) on a CPU without int8 dot products (no VNNI/AMX), or None.

    Without VNNI/AMX the CPU plugin emulates int8 matmuls with wider AVX2 instructions: measured on an
    AVX2-only EPYC, INT8 PTQ of MiniLM ran 0.87x the fp IR. `capabilities` None: unknown, no warning.
    """
    from ovtool.backends.openvino.cpu_caps import int8_dot_product

    if capabilities is None or int8_dot_product(capabilities):
        return None
    return (f"quantize: this CPU ({cpu_name}) has no int8 dot-product instructions (VNNI/AMX): INT8 activations "
            "(PTQ) are unlikely to run faster here than the fp IR — weight compression (`weights:`) or bf16 may "
            "pay instead; the report's speed ratio is measured on this CPU")  # fmt: skip


def host_ptq_warning() -> str | None:
    """`ptq_warning` for the CPU this runs on (cheap: /proc/cpuinfo, no OpenVINO import)."""
    from ovtool.backends.openvino.cpu_caps import host

    found = host()
    return None if found is None else ptq_warning(found[1], found[0])


def measured_on() -> str:
    """'<CPU model> (AVX2, AVX-512, VNNI…)': the machine a speed ratio was measured on, for reports."""
    from ovtool.backends.openvino.cpu_caps import features, host

    found = host()
    if found is None:
        from ovtool.backends.openvino.cpu_caps import cpu_identity

        return cpu_identity()
    names = [name for name, ok in features(found[1]).items() if ok]
    return f"{found[0]} ({', '.join(names) or 'no AVX2'})"
