"""The whole recipe: top-level keys plus one optional section per stage."""

from __future__ import annotations

from pydantic import Field

from ovtool.recipe.sections.base import Section
from ovtool.recipe.sections.benchmark import BenchmarkSection
from ovtool.recipe.sections.convert import ConvertSection
from ovtool.recipe.sections.dataset import DatasetSection
from ovtool.recipe.sections.distill import DistillSection
from ovtool.recipe.sections.gates import GatesSection
from ovtool.recipe.sections.generate import GenerateSection
from ovtool.recipe.sections.prune import PruneSection
from ovtool.recipe.sections.quantize import QuantizeSection
from ovtool.recipe.sections.sweep import SweepSection

# The order `ovtool run` executes the sections in (DESIGN.md).
STAGE_ORDER: tuple[str, ...] = (
    "dataset",
    "convert",
    "prune",
    "distill",
    "quantize",
    "benchmark",
    "generate",
)


class CacheSettings(Section):
    """How `ovtool run` uses the stage cache ($OVTOOL_CACHE): what a stage made is reused on the same inputs."""

    enabled: bool = Field(default=True, description="Read and write the stage cache (--no-cache: false).")
    measurements: bool = Field(
        default=False,
        description="Reuse measurements too (benchmark, generate, quantize's quality and speed); by default they "
        "are taken again on every run, since timing again is usually the point.",
    )


class Recipe(Section):
    """A YAML recipe. Paths are relative to the working directory ovtool runs in."""

    model: str | None = Field(
        default=None, description="Source model: HF folder or hub id, .gguf, .onnx, .tflite, IR .xml…"
    )
    output: str | None = Field(default=None, description="OUT folder the run is published to.")
    seed: int = Field(default=0, description="Seed for every random choice (data order, sampling).")
    dataset: DatasetSection | None = None
    convert: ConvertSection | None = None
    prune: PruneSection | None = None
    distill: DistillSection | None = None
    quantize: QuantizeSection | None = None
    benchmark: BenchmarkSection | None = None
    generate: GenerateSection | None = None
    gates: GatesSection | None = None
    cache: CacheSettings | None = Field(default=None, description="Stage cache use (default: on, measurements off).")
    sweep: SweepSection | None = Field(default=None, description="Trials over axes of this recipe (ovtool sweep).")

    def stages(self) -> list[str]:
        """The stage sections present, in run order."""
        return [name for name in STAGE_ORDER if getattr(self, name) is not None]
