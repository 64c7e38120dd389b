"""The generate stage's speed figures: each computed as its definition says, named cold or warm."""

from __future__ import annotations

from ovtool.backends.genai.genai import DecodeStats
from ovtool.stages.generate_figures import COLD_FIGURES, WARM_FIGURES, DecodePass, speed_metrics


def _pass(warmed: bool) -> DecodePass:
    stats = DecodeStats(wall_s=4.0, generated_tokens=100, ttft_ms=[300.0, 100.0], tpot_ms=[20.0, 40.0],
                        call_input_tokens=[60, 40], call_generated=[75, 25])  # fmt: skip
    return DecodePass(stats=stats, chat_template_applied=True, peak_rss_bytes=1, load_s=1.5, warmed=warmed)


def test_figures_follow_their_definitions() -> None:
    m = speed_metrics(_pass(warmed=False))
    assert m["tokens_per_s"].value == 25.0  # 100 new tokens over 4 s of generate calls (cold wall)
    # TPOT weighted by each call's new tokens (75 at 20 ms, 25 at 40 ms: 25 ms), the warm rate is 1000 / it
    assert m["decode_tokens_per_s"].value == 40.0
    assert m["tpot_ms"].value == 25.0 and m["ttft_ms"].value == 200.0
    assert m["prefill_tokens_per_s"].value == 250.0  # 100 prompt tokens over 0.4 s of TTFT
    assert m["load_s"].value == 1.5
    assert m["decode_tokens_per_s"].unit == m["tokens_per_s"].unit == "tokens/s"
    for name in WARM_FIGURES:
        assert m[name].description.startswith("warm:"), name
    for name in COLD_FIGURES:
        assert "(cold:" in m[name].description, name
    assert all(metric.description for metric in m.values())


def test_a_warmed_pass_is_not_called_cold() -> None:
    m = speed_metrics(_pass(warmed=True))
    for name in COLD_FIGURES:
        assert "cold" not in m[name].description and "after one warm-up" in m[name].description, name
