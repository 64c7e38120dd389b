"""Time one set of LLM device properties through openvino_genai: warm decode ms per token, TTFT, greedy text.

Measurement only (which candidates to try and which wins is ovtool.tuning's business). A timer keeps
its pipeline loaded so the caller can interleave two of them call by call (A B A B: a shared machine's
load changes between seconds, and a paired ratio cancels most of it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


class LlmTimer:
    """An LLMPipeline with `props`, warmed; `sample()` runs the greedy probe once and returns its TPOT (ms)."""

    def __init__(self, model_dir: Path, device: str, props: dict[str, Any], prompt: str, max_new_tokens: int):
        import openvino_genai as ov_genai

        start = time.perf_counter()
        self.pipe: Any = ov_genai.LLMPipeline(str(model_dir), device, **props)
        self.load_s = time.perf_counter() - start
        self.cfg = ov_genai.GenerationConfig()
        self.cfg.max_new_tokens, self.cfg.min_new_tokens, self.cfg.do_sample = max_new_tokens, max_new_tokens, False
        self.prompt = prompt
        self.ttft_ms: list[float] = []
        self.text = self.pipe.generate([prompt], self.cfg).texts[0]  # warm-up, and the answer the guard compares

    def sample(self) -> float:
        pm = self.pipe.generate([self.prompt], self.cfg).perf_metrics
        self.ttft_ms.append(float(pm.get_ttft().mean))
        return float(pm.get_tpot().mean)

    def close(self) -> None:
        self.pipe = None
