"""`ovtool generate` (pending: built by its own issue)."""

from __future__ import annotations

from ovtool.cli.pending import make_pending_command

generate = make_pending_command("generate", "Generate text with an LLM IR.")
