"""The generate stage's session API (what `--chat` loops over), in-process with a stand-in for the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ovtool.backends.genai import genai
from ovtool.backends.genai.genai import TurnResult
from ovtool.context import Pending, StageContext, StageInput
from ovtool.recipe.sections.generate import GenerateSection
from ovtool.stages import generate
from ovtool.stages.generate_session import GenerateSession


def _fake_turn(pipeline: Any, cfg: Any, messages: list[dict[str, str]], write: Any) -> TurnResult:
    """Streams two pieces; the reply says how many messages it saw (so history is visible)."""
    reply = f"seen {len(messages)}"
    for piece in (reply[:4], reply[4:]):
        write(piece)
    return TurnResult(text=reply, input_tokens=len(messages), output_tokens=2, ttft_ms=1.0, tpot_ms=1.0,
                      tokens_per_s=1.0)  # fmt: skip


def test_history_streaming_reset_and_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(genai, "chat_turn", _fake_turn)
    pieces: list[str] = []
    with GenerateSession(object(), object(), "be brief", "model-dir") as session:
        assert session.ask("hi", pieces.append).text == "seen 2"  # system + user
        assert pieces == ["seen", " 2"]
        assert session.ask("again").text == "seen 4"  # the first exchange is in the history
        session.reset()
        assert session.messages == [{"role": "system", "content": "be brief"}]
        assert session.ask("fresh").text == "seen 2"
    with pytest.raises(RuntimeError, match="closed"):
        session.ask("after close")


def test_a_failed_turn_leaves_no_dangling_question(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any) -> TurnResult:
        raise KeyboardInterrupt

    monkeypatch.setattr(genai, "chat_turn", boom)
    session = GenerateSession(object(), object(), None, "m")
    with pytest.raises(KeyboardInterrupt):
        session.ask("hi")
    assert session.messages == []


def test_preflight_accepts_a_pending_model_and_checks_prompts(tmp_path: Path) -> None:
    ctx = StageContext(stage="generate", work_dir=tmp_path, input=StageInput(model=Pending("quantize")))
    generate.preflight(GenerateSection(prompt="x"), ctx)  # the earlier stage's output is not there yet
    generate.check_models(GenerateSection(), ctx)  # chat: no prompt needed
    with pytest.raises(generate.UserError, match="no prompt"):
        generate.preflight(GenerateSection(), ctx)


def test_stage_declaration() -> None:
    stage = generate.STAGE
    assert stage.name == "generate" and stage.section_type is GenerateSection
    assert stage.optional_section and stage.needs_model and not stage.needs_output and not stage.produces_model
