"""`measure(...)`: run the search for an IR on this machine and store the choice; `stored(...)`: look it up.

The two entry points `ovtool tune` and `ovtool.stages.precision` use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovtool.errors import UserError
from ovtool.ir_folder import IRFolder
from ovtool.tuning import store

LLM_DEFAULTS = ("KV_CACHE_PRECISION", "DYNAMIC_QUANTIZATION_GROUP_SIZE")


@dataclass
class Tuned:
    """A choice and where it came from ("measured now" or "stored")."""

    settings: dict[str, Any]
    source: str
    record: dict[str, Any]


def stored(model_dir: Path, device: str) -> Tuned | None:
    """The stored choice for this IR on this machine, or None. Cheap: stat calls and one small file."""
    try:
        key = store.key_for(model_dir, device)
    except OSError:  # no IR there (yet): nothing can be stored for it
        return None
    record = store.lookup(key)
    return None if record is None else Tuned(dict(record["settings"]), "stored", record)


def measure(model_dir: Path, device: str, *, seconds: float, goal: str = "latency", shapes: Any = None,
            progress: Callable[[str], None] = lambda _: None) -> Tuned:  # fmt: skip
    """Run the search (LLM when the tokenizer IRs are beside the model, else static) and store the choice."""
    from ovtool.backends.openvino import cpu_caps
    from ovtool.backends.openvino.ov_bench import check_device
    from ovtool.tuning import search

    folder = IRFolder.find(model_dir)
    if folder is None:
        raise UserError(f"tune: {model_dir} holds no OpenVINO IR: convert it first (`ovtool convert`)")
    check_device(device)  # a device that is not here is bad input (exit 2), not a failed measurement
    progress(f"tune: measuring {model_dir} on {device} ({seconds:g} s per candidate)")
    caps = cpu_caps.probe(device)
    on_cpu = device.upper().startswith("CPU")
    precisions = cpu_caps.supported_precisions(caps.capabilities) if on_cpu else ["f32", "f16"]
    if folder.has_tokenizer:
        defaults = cpu_caps.default_properties(device, LLM_DEFAULTS)
        outcome = search.tune_llm(folder.root, device, precisions, defaults, seconds, progress)
    else:
        outcome = search.tune_static(folder.xml, device, precisions, goal, seconds, shapes, progress)
    record = store.save(store.key_for(model_dir, device), outcome.kind, outcome.settings, outcome.table(), caps.name,
                        goal=None if folder.has_tokenizer else goal)  # fmt: skip
    return Tuned(outcome.settings, "measured now", record)
