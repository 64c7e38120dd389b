"""`ovtool benchmark` (pending: built by its own issue)."""

from __future__ import annotations

from ovtool.cli.pending import make_pending_command

benchmark = make_pending_command("benchmark", "Measure latency, throughput and LLM metrics.")
