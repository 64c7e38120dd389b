"""Turn `gates:` thresholds and the values stages measured into pass/fail outcomes (exit 3)."""

from __future__ import annotations

import operator
from dataclasses import dataclass

from ovtool.recipe.sections.gates import GatesSection

# gate name -> (value key a stage reports in StageResult.gate_values, comparison that must hold)
GATE_RULES: dict[str, tuple[str, str]] = {
    "min_speedup": ("speedup", ">="),
    "max_latency_ms": ("latency_ms", "<="),
    "min_throughput": ("throughput", ">="),
    "min_tokens_per_s": ("tokens_per_s", ">="),
    "max_ttft_ms": ("ttft_ms", "<="),
    "max_regression_pct": ("regression_pct", "<="),
    "max_accuracy_drop": ("accuracy_drop", "<="),
    "max_perplexity_increase_pct": ("perplexity_increase_pct", "<="),
    "min_similarity": ("similarity", ">="),
}
_OPS = {">=": operator.ge, "<=": operator.le}


@dataclass
class GateOutcome:
    gate: str
    threshold: float
    value: float | None
    passed: bool | None
    measured_by: str | None

    def describe(self) -> str:
        key, op = GATE_RULES[self.gate]
        if self.value is None:
            return f"{self.gate}: not measured by this run (needs {key})"
        verdict = "ok" if self.passed else "FAILED"
        return f"{self.gate}: {key} {self.value:.4g} {op} {self.threshold:g} {verdict}"

    def as_dict(self) -> dict[str, object]:
        return {
            "gate": self.gate,
            "threshold": self.threshold,
            "value": self.value,
            "passed": self.passed,
            "measured_by": self.measured_by,
        }


def evaluate(
    gates: GatesSection | None, values_by_stage: dict[str, dict[str, float]], *, strict: bool
) -> list[GateOutcome]:
    """Every gate set in the recipe gets an outcome, always reported.

    A gate no stage measured fails under `strict` (`ovtool run`, where every stage ran) and is
    reported as not measured (passed=None) when a single-stage command ran.
    """
    outcomes: list[GateOutcome] = []
    if gates is None:
        return outcomes
    for gate, (key, op) in GATE_RULES.items():
        threshold = getattr(gates, gate)
        if threshold is None:
            continue
        value, stage = None, None
        for stage_name, values in values_by_stage.items():
            if key in values:
                value, stage = values[key], stage_name
        passed: bool | None
        if value is None:
            passed = False if strict else None
        else:
            passed = bool(_OPS[op](value, threshold))
        outcomes.append(GateOutcome(gate, float(threshold), value, passed, stage))
    return outcomes
