"""An interactive generate session (`ovtool generate --chat`): one pipeline, a chat history, turns.

The session is the generate stage's, not the CLI's: the model is resolved (converted if needed) and
the inference precision chosen by the same `prepare` as a run, so chat runs the IR exactly the way
`ovtool generate` does. The CLI only reads lines, streams pieces and prints the per-turn metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from ovtool.backends.genai.genai import TurnResult
from ovtool.context import StageContext
from ovtool.recipe.sections.generate import GenerateSection

# A streaming callback: receives each decoded text piece as it comes.
Stream = Callable[[str], None]


def _ignore(piece: str) -> None:
    """The stream of an `ask` nobody watches."""


class GenerateSession:
    """A loaded pipeline and the conversation so far; `ask` runs one turn over the whole history."""

    def __init__(self, pipeline: Any, cfg: Any, system_prompt: str | None, source: str) -> None:
        self._pipeline = pipeline
        self._cfg = cfg
        self._base = [{"role": "system", "content": system_prompt}] if system_prompt else []
        self.messages: list[dict[str, str]] = list(self._base)
        self.source = source  # the model as the user named it (for the greeting line)

    def ask(self, text: str, stream: Stream | None = None) -> TurnResult:
        """Send one user turn; pieces go to `stream` as decoded; the reply joins the history."""
        from ovtool.backends.genai import genai

        if self._pipeline is None:
            raise RuntimeError("the generate session is closed")
        self.messages.append({"role": "user", "content": text})
        try:
            turn = genai.chat_turn(self._pipeline, self._cfg, self.messages, stream or _ignore)
        except BaseException:
            self.messages.pop()  # an interrupted or failed turn leaves no dangling question
            raise
        self.messages.append({"role": "assistant", "content": turn.text})
        return turn

    def reset(self) -> None:
        """Forget the conversation (the system prompt stays)."""
        self.messages = list(self._base)

    def close(self) -> None:
        """Free the pipeline (its compiled model and KV cache) now rather than at interpreter exit."""
        self._pipeline = None

    def __enter__(self) -> GenerateSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def open_session(section: GenerateSection, ctx: StageContext) -> GenerateSession:
    """Resolve the model like a run does, load the pipeline once, and return a session to ask.

    A non-IR input is converted into `ctx.model_dir` (the caller's scratch folder: a session publishes
    nothing), with the recipe's `convert:` settings from `ctx.input.convert`.
    """
    from ovtool.backends.genai import genai
    from ovtool.stages.generate import prepare

    ready = prepare(section, ctx)
    spec = section.speculative
    with ctx.step("load pipeline"):
        pipeline = genai.load_pipeline(ready.model_dir, section.device, ready.props, draft_dir=ready.draft_dir,
                                       prompt_lookup=bool(spec and spec.prompt_lookup),
                                       adapters=ready.adapters)  # fmt: skip
    cfg = genai.generation_config(pipeline, section, ctx.seed)
    return GenerateSession(pipeline, cfg, section.system_prompt, ctx.input.model_path)
