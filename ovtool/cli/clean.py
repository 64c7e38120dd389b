"""`ovtool clean [FOLDER...]`: remove what killed runs left behind (staging, scratch, plaintext).

Every run does this for its own OUT's folder on start; `clean` is for a folder no run will visit
again. Only folders whose owner mark names a process that is gone are touched; a previous OUT
that a killed publish left under its `-old-` name is put back instead of removed.
"""

from __future__ import annotations

from pathlib import Path

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import COMMON, Flag

FLAGS = (
    Flag("folders", type=Path, argument=True, repeatable=True, metavar="[FOLDER]...",
         help="Folders holding OUTs (default: the current directory); tmp and /dev/shm always."),
    Flag("--dry-run", type=bool, default=False, panel=COMMON, help="List what would be removed; remove nothing."),
)  # fmt: skip

EXAMPLES = examples("""
    # list leftovers of killed runs here, in tmp and /dev/shm
    clean --dry-run
    # remove them beside the OUTs in runs/
    clean runs
""")


def _body(call: Call) -> None:
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.scratch import describe, sweep_everywhere

    chosen = call["folders"] or [Path.cwd()]
    for folder in chosen:
        if not folder.is_dir():
            raise UserError(f"clean: {folder} is not a folder: name folders that hold OUTs")
    done = sweep_everywhere(chosen, dry_run=call["dry_run"])
    for leftover in done:
        console.result(str(leftover.path))  # stdout: one path per line, for scripts
    for line in describe(done, dry_run=call["dry_run"]):
        console.info(line)
    if not done:
        console.info("no leftovers of killed runs")


clean = command("clean", FLAGS, examples=EXAMPLES, body=_body)
