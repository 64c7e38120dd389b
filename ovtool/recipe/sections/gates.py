"""`gates:` — thresholds that turn a measured result into exit code 3."""

from __future__ import annotations

from pydantic import Field

from ovtool.recipe.sections.base import Section


class GatesSection(Section):
    """Every gate is optional; every gate that is set is evaluated and reported."""

    min_speedup: float | None = Field(default=None, gt=0, description="Candidate vs baseline throughput.")
    max_latency_ms: float | None = Field(default=None, gt=0, description="Median latency of the model.")
    min_throughput: float | None = Field(default=None, gt=0, description="Inferences per second.")
    min_tokens_per_s: float | None = Field(default=None, gt=0, description="LLM generation tokens/s.")
    max_ttft_ms: float | None = Field(default=None, gt=0, description="LLM time to first token.")
    max_regression_pct: float | None = Field(
        default=None, ge=0, description="Allowed slowdown against `baseline_run` in percent."
    )
    baseline_run: str | None = Field(
        default=None, description="A run.json to compare against for max_regression_pct."
    )
    max_accuracy_drop: float | None = Field(
        default=None, ge=0, description="Absolute accuracy drop in points (0-100 scale)."
    )
    max_perplexity_increase_pct: float | None = Field(default=None, ge=0)
    min_similarity: float | None = Field(
        default=None, ge=-1, le=1, description="Cosine similarity of outputs to the original."
    )
    # Where the result goes, not what the run does: left out of recipe.yaml, the recipe hash and cache
    # keys (exclude=True), and so out of sweep trials, which would all write the same file.
    junit: str | None = Field(
        default=None, exclude=True, min_length=1,
        description="Write JUnit XML here (one test case per stage and per gate), also when gates or the work "
        "fail; outside OUT. Same as --junit FILE.",
    )  # fmt: skip
