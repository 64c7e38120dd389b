"""`ovtool generate --chat`: an interactive session with history, tokens streamed as they come.

Interactive, so nothing is published: the runner wires the generate stage's section and input
(`single_stage`), the stage opens a session (`open_session`: same model resolution and precision as a
run), and this module only loops over lines. The prompt marker and metrics go to stderr, the model's
replies to stdout. /reset clears the history, /exit (or Ctrl-D) quits.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ovtool.context import StageContext
    from ovtool.recipe.sections.generate import GenerateSection

HELP = "/reset clears the history · /exit (or Ctrl-D) quits"


def _read_line() -> str | None:
    """One user line; the marker goes to stderr so stdout holds only the replies. None at EOF."""
    sys.stderr.write("> ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    return None if line == "" else line.rstrip("\n")


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def run_chat(
    *,
    recipe: Path | None,
    sets: list[str] | None,
    flags: dict[str, Any],
    dry_run: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Validate like a run, open the generate stage's session once, then loop over user turns."""
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.recipe.loader import load_recipe
    from ovtool.runner import single_stage
    from ovtool.stages.generate import check_models

    console.set_verbosity(verbose, quiet)
    if flags.get("output") is not None:
        raise UserError("--chat publishes nothing: drop -o (convert the model first with `ovtool convert`)")
    all_flags = dict(flags)
    loaded = load_recipe(recipe, sets or [], all_flags)
    if loaded.recipe.generate is None:  # so the resolved recipe shows the section chat ran with
        loaded = load_recipe(recipe, sets or [], {**all_flags, "generate": {}})
    from ovtool.scratch import owned_tempdir

    with owned_tempdir("ovtool-chat-") as tmp:
        section, ctx = single_stage(loaded, "generate", tmp)
        check_models(section, ctx)
        if dry_run:
            console.info("dry run: recipe, model and options are valid; no chat was started")
            console.result(loaded.resolved_yaml())
            return
        _loop(section, ctx)


def _loop(section: GenerateSection, ctx: StageContext) -> None:
    """Read user lines until /exit or EOF; replies stream to stdout, metrics to stderr."""
    from ovtool import console
    from ovtool.stages.generate_session import open_session

    with console.stdout_to_stderr():
        session = open_session(section, ctx)
    with session:
        console.info(f"chat with {session.source} — {HELP}")
        while True:
            line = _read_line()
            if line is None:
                sys.stderr.write("\n")
                break
            command = line.strip()
            if not command:
                continue
            if command in ("/exit", "/quit"):
                break
            if command == "/reset":
                session.reset()
                console.info("history cleared")
                continue
            if command.startswith("/"):
                console.warn(f"unknown command {command}: {HELP}")
                continue
            turn = session.ask(line, _write)
            _write("\n")
            console.info(
                f"TTFT {turn.ttft_ms:.0f} ms · TPOT {turn.tpot_ms:.1f} ms/token · {turn.tokens_per_s:.1f} tokens/s · "
                f"{turn.input_tokens} in / {turn.output_tokens} out tokens"
            )
