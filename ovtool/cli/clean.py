"""`ovtool clean [FOLDER...]`: remove what killed runs left behind (staging, scratch, plaintext).

Every run does this for its own OUT's folder on start; `clean` is for a folder no run will visit
again. Only folders whose owner mark names a process that is gone are touched; a previous OUT
that a killed publish left under its `-old-` name is put back instead of removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovtool.cli.common import guarded


@guarded
def clean(
    folders: Annotated[
        list[Path] | None,
        typer.Argument(help="Folders holding OUTs (default: the current directory); tmp and /dev/shm always."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")] = False,
) -> None:
    """Remove the staging and scratch folders of ovtool runs that were killed (SIGKILL, power loss)."""
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.scratch import describe, sweep_everywhere

    chosen = folders or [Path.cwd()]
    for folder in chosen:
        if not folder.is_dir():
            raise UserError(f"clean: {folder} is not a folder: name folders that hold OUTs")
    done = sweep_everywhere(chosen, dry_run=dry_run)
    for leftover in done:
        console.result(str(leftover.path))  # stdout: one path per line, for scripts
    for line in describe(done, dry_run=dry_run):
        console.info(line)
    if not done:
        console.info("no leftovers of killed runs")
