"""`ovtool generate --chat`: an interactive session with history, tokens streamed as they come.

Interactive, so it bypasses the runner (nothing is published): the prompt marker and metrics go
to stderr, the model's replies to stdout. /reset clears the history, /exit (or Ctrl-D) quits.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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
    model: str | None,
    output: Path | None,
    sets: list[str] | None,
    flags: dict[str, Any],
    dry_run: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Validate like a run, load the pipeline once, then loop over user turns."""
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.recipe.loader import load_recipe
    from ovtool.stages.generate import check_model_source

    console.set_verbosity(verbose, quiet)
    if output is not None:
        raise UserError("--chat publishes nothing: drop -o (convert the model first with `ovtool convert`)")
    all_flags = {"model": model, **flags}
    loaded = load_recipe(recipe, sets or [], all_flags)
    if loaded.recipe.generate is None:
        loaded = load_recipe(recipe, sets or [], {**all_flags, "generate": {}})
    section = loaded.recipe.generate
    assert section is not None
    source = section.input or loaded.recipe.model
    if not source:
        raise UserError("generate: no model: pass -m MODEL or set `model:` in the recipe")
    check_model_source(source)
    if section.speculative is not None and section.speculative.draft is not None:
        check_model_source(section.speculative.draft, "speculative.draft")
    if dry_run:
        console.info("dry run: recipe, model and options are valid; no chat was started")
        console.result(loaded.resolved_yaml())
        return
    from ovtool.scratch import owned_tempdir

    with owned_tempdir("ovtool-chat-") as tmp:
        _session(loaded.recipe, source, tmp)


def _session(recipe: Any, source: str, tmp: Path) -> None:
    from ovtool import console
    from ovtool.backends import genai
    from ovtool.stages.context import StageContext
    from ovtool.stages.generate import resolve_ir

    section = recipe.generate
    ctx = StageContext(stage="generate", work_dir=tmp, input_model=source, seed=recipe.seed)
    spec = section.speculative
    with console.stdout_to_stderr():
        model_dir, _ = resolve_ir(source, tmp / "model", ctx, recipe)
        draft_dir = resolve_ir(spec.draft, tmp / "draft", ctx, recipe)[0] if spec and spec.draft else None
        precision, _ = genai.precision_for(section, model_dir)
        with ctx.step("load pipeline"):
            pipeline = genai.load_pipeline(
                model_dir, section.device, genai.device_properties(section.performance, precision),
                draft_dir=draft_dir, prompt_lookup=bool(spec and spec.prompt_lookup),
            )  # fmt: skip
    cfg = genai.generation_config(pipeline, section, recipe.seed)
    base = [{"role": "system", "content": section.system_prompt}] if section.system_prompt else []
    messages = list(base)
    console.info(f"chat with {source} — {HELP}")
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
            messages = list(base)
            console.info("history cleared")
            continue
        if command.startswith("/"):
            console.warn(f"unknown command {command}: {HELP}")
            continue
        messages.append({"role": "user", "content": line})
        turn = genai.chat_turn(pipeline, cfg, messages, _write)
        _write("\n")
        messages.append({"role": "assistant", "content": turn.text})
        console.info(
            f"TTFT {turn.ttft_ms:.0f} ms · TPOT {turn.tpot_ms:.1f} ms/token · {turn.tokens_per_s:.1f} tokens/s · "
            f"{turn.input_tokens} in / {turn.output_tokens} out tokens"
        )
