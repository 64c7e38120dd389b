"""Shared body of stages that a later issue builds: they say so and exit 1, never fake a result."""

from __future__ import annotations

from ovtool.errors import WorkFailed


def not_implemented(stage: str) -> WorkFailed:
    return WorkFailed(f"`ovtool {stage}` is not implemented yet")
