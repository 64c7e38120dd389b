"""PyTorch eager baseline for a Hugging Face model, timed on the same inputs as the OpenVINO runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ovtool.errors import UserError
from ovtool.measure import current_rss_bytes

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass
class TorchTarget:
    """The eager model, its inputs as torch tensors, and what was measured (sync, one call at a time)."""

    label: str
    folder: Path
    model: Any
    inputs: dict[str, Any]
    batch: int
    load_s: float
    dtype: str
    threads: int = 0  # torch's intra-op threads
    rss_added_bytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    iterations: int = 0

    def warm_up(self, count: int) -> None:
        self.run_part(None, max(count, 1), record=False)

    def run_part(self, seconds: float | None, iterations: int | None, record: bool = True) -> None:
        """Call the model until the time or iteration budget is spent."""
        import torch

        count = 0
        start = time.perf_counter()
        with torch.inference_mode():
            while (iterations and count < iterations) or (seconds and time.perf_counter() - start < seconds):
                begin = time.perf_counter()
                self.model(**self.inputs)
                if record:
                    self.latencies_ms.append((time.perf_counter() - begin) * 1000)
                count += 1
        if record:
            self.seconds += time.perf_counter() - start
            self.iterations += count

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)


def load(folder: Path, batch_inputs: dict[str, Any], batch: int) -> TorchTarget:
    """The model class its config names (else AutoModel), in eval mode, with the OpenVINO inputs."""
    import torch
    import transformers

    if not (folder / "config.json").exists():
        raise UserError(f"benchmark.pytorch_baseline: {folder} is not a Hugging Face model folder (no config.json)")
    rss_before = current_rss_bytes()
    start = time.perf_counter()
    config = transformers.AutoConfig.from_pretrained(folder)
    architectures = getattr(config, "architectures", None) or []
    model_class = getattr(transformers, architectures[0], None) if architectures else None
    model = (model_class or transformers.AutoModel).from_pretrained(folder).eval()
    load_s = time.perf_counter() - start
    inputs = {name: torch.from_numpy(array.copy()) for name, array in batch_inputs.items()}
    try:
        with torch.inference_mode():
            model(**inputs)
    except TypeError as exc:
        raise UserError(
            f"benchmark.pytorch_baseline: {model.__class__.__name__} does not take the IR's inputs "
            f"({', '.join(inputs)}): {exc}"
        ) from exc
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    dtype = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}.get(dtype, dtype)
    target = TorchTarget("pytorch eager", folder, model, inputs, batch, load_s, dtype, torch.get_num_threads())
    target.rss_added_bytes = max(current_rss_bytes() - rss_before, 0)
    return target
