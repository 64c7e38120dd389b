"""`ovtool quantize` (pending: built by its own issue)."""

from __future__ import annotations

from ovtool.cli.pending import make_pending_command

quantize = make_pending_command("quantize", "Quantize an IR (INT8/FP8 PTQ, weight compression).")
