"""`ovtool prune` (pending: built by its own issue)."""

from __future__ import annotations

from ovtool.cli.pending import make_pending_command

prune = make_pending_command("prune", "Prune a transformer (structured or unstructured).")
