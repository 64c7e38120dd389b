"""`ovtool distill` (pending: built by its own issue)."""

from __future__ import annotations

from ovtool.cli.pending import make_pending_command

distill = make_pending_command("distill", "Distill a teacher into a student (and JPQD).")
