"""Which compile settings a model is benchmarked with, and where they came from (policy).

An LLM (`llm_choice`) is timed as `ovtool generate` runs it: the same precision choice, stored or rule.

`benchmark --precision auto` of a static IR takes what `ovtool tune -m IR` stored for it on this
machine: its precision always, its hint / streams / threads only when the tuning's goal is the one
this benchmark measures (`--hint latency` → latency, otherwise throughput) and the user set none of
them. Without a stored choice `auto` keeps the device's default precision (the rule). What the user
set (`--precision f32`, `--hint`, `--streams`, `--threads`, `benchmark.config`) always wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovtool.recipe.sections.benchmark import BenchmarkSection

if TYPE_CHECKING:
    from ovtool.stages.precision import PrecisionChoice

PRECISION = "INFERENCE_PRECISION_HINT"
# A stored property and the section field that, when set, keeps it out.
SECTION_FIELDS = {"PERFORMANCE_HINT": "hint", "NUM_STREAMS": "streams", "INFERENCE_NUM_THREADS": "threads"}


@dataclass
class StaticChoice:
    """Properties added to the section's compile config, and why (source: "asked" | "stored" | "rule")."""

    source: str
    why: str
    properties: dict[str, Any] = field(default_factory=dict)
    asked: str | None = None  # the precision the user set (applied by the section itself)

    def record(self) -> dict[str, Any]:
        """run.json's `precision_choice` (the same shape as generate's)."""
        return {"inference_precision": self.properties.get(PRECISION) or self.asked or "device default",
                "properties": {k: v for k, v in self.properties.items() if k != PRECISION},
                "source": self.source, "why": self.why}  # fmt: skip


def goal(section: BenchmarkSection) -> str:
    """What the benchmark measures: latency with the latency hint, else throughput (benchmark_app's)."""
    return "latency" if section.hint == "latency" else "throughput"


def static_choice(section: BenchmarkSection, xml: Path) -> StaticChoice:
    """The stored tuning's settings for `xml` under `auto`; the user's settings otherwise (see module doc)."""
    if PRECISION in section.config:
        asked = str(section.config[PRECISION])
        return StaticChoice("asked", f"asked for in benchmark.config: {asked}", asked=asked)
    if section.precision not in (None, "auto"):
        return StaticChoice("asked", f"asked for: {section.precision}", asked=section.precision)
    if section.precision is None:
        return StaticChoice("rule", "device default (no --precision; `--precision auto` uses `ovtool tune`'s choice)")
    from ovtool.tuning.api import stored

    tuned = stored(xml, section.device)
    if tuned is None or tuned.record.get("kind") != "static":
        return StaticChoice("rule", "auto: device default (no stored tuning for this IR here — `ovtool tune -m IR` "
                            "measures it)")  # fmt: skip
    return _from_stored(section, tuned.settings, tuned.record.get("goal"))


def _from_stored(section: BenchmarkSection, settings: dict[str, Any], tuned_for: str | None) -> StaticChoice:
    chosen = {PRECISION: settings[PRECISION]} if PRECISION in settings else {}
    wanted = goal(section)
    if tuned_for == wanted:
        hint = settings.get("PERFORMANCE_HINT")
        if hint is not None and section.hint is None and "PERFORMANCE_HINT" not in section.config:
            chosen["PERFORMANCE_HINT"] = hint
        same_hint = hint is not None and str(hint).lower() == (section.hint or str(hint)).lower()
        for name in ("NUM_STREAMS", "INFERENCE_NUM_THREADS"):
            user_set = getattr(section, SECTION_FIELDS[name]) is not None or name in section.config
            if name in settings and same_hint and not user_set:
                chosen[name] = settings[name]
        note = ""
    else:
        note = f"; hint/streams tuned for {tuned_for or 'an unrecorded goal'}, this benchmark measures {wanted}"
    shown = " ".join(f"{k}={v}" for k, v in chosen.items()) or "device defaults"
    return StaticChoice("stored", f"auto: measured by `ovtool tune` on this CPU (stored): {shown}{note}", chosen)


def llm_choice(section: BenchmarkSection, folder: Path) -> PrecisionChoice:
    """What an LLM is timed with: INFERENCE_PRECISION_HINT, the stored tuning's other properties, the source.

    `auto` times each IR as `ovtool generate` runs it (the choice `ovtool tune` stored, else the rule):
    users deploy it that way, so time it that way. `benchmark.config`, threads and streams win over a
    stored property, as a recipe's own keys do for generate.
    """
    from ovtool.recipe.sections.generate import GenerateSection, PerformanceSection
    from ovtool.stages.precision import PrecisionChoice, choice_for

    if section.precision is None and "INFERENCE_PRECISION_HINT" not in section.config:
        return PrecisionChoice(None, "device default (no --precision; `--precision auto` times it as `ovtool "
                               "generate` runs it)", "rule")  # fmt: skip
    perf = PerformanceSection(inference_precision=section.precision or "default", properties=dict(section.config),
                              threads=section.threads, streams=section.streams)  # fmt: skip
    return choice_for(GenerateSection(device=section.device, performance=perf), folder)
