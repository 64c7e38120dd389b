"""The base every recipe section shares: unknown keys are errors, never silently ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A strict recipe mapping: `extra="forbid"` turns a misspelt key into an error."""

    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)


class StageSection(Section):
    """A stage's section. `input` overrides where the stage reads its model from."""

    input: str | None = Field(
        default=None,
        description="Model this stage reads; default: the previous stage's output, else `model`.",
    )
