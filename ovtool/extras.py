"""Which optional extras are installed, so a stage that needs one exits 2 at validation time.

`pip install ovtool` (the core) converts ONNX/TFLite/TF/Paddle/IR files, quantizes IRs, benchmarks,
generates and handles datasets without torch. Hugging Face/GGUF/PyTorch sources and PyTorch baselines
need `ovtool[hf]`, prune/distill need `ovtool[train]`, the Ray sweep executor `ovtool[ray]`. The stages'
preflight calls `require(...)`, so `--dry-run` already names the pip command instead of a run failing
with a ModuleNotFoundError deep inside a library after minutes of work.

find_spec, not an import: importing torch costs seconds that a `--dry-run` or `--help` must not pay.
"""

from __future__ import annotations

import importlib.util
import sys

from ovtool.errors import UserError

# extra -> the modules of it that ovtool imports (checked by find_spec)
EXTRAS: dict[str, tuple[str, ...]] = {
    "hf": ("torch", "optimum", "optimum.intel", "gguf", "accelerate"),
    "train": ("torch", "optimum", "optimum.intel", "accelerate"),
    "ray": ("ray",),
}
# module -> what pip calls it, for the message
DISTRIBUTIONS = {"optimum.intel": "optimum-intel"}
# source format -> (extra, what needs it, the modules of the extra it needs; None = all)
SOURCE_NEEDS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "hf": ("hf", "converting a Hugging Face model", ("torch", "optimum", "optimum.intel")),
    "gguf": ("hf", "converting a GGUF model", None),
    "pytorch": ("hf", "converting a PyTorch model", ("torch",)),
}


def is_available(module: str) -> bool:
    """True when `module` can be imported (a submodule's parents are imported to find it; a broken or
    blocked parent counts as missing)."""
    parts = module.split(".")
    for depth in range(1, len(parts)):  # find_spec of an imported submodule does not look at a blocked parent
        if sys.modules.get(".".join(parts[:depth]), True) is None:
            return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without __spec__
        return False


def missing(extra: str, modules: tuple[str, ...] | None = None) -> list[str]:
    """The distributions of `extra` (or only `modules` of it) that are not installed."""
    wanted = EXTRAS[extra] if modules is None else modules
    return [DISTRIBUTIONS.get(m, m) for m in wanted if not is_available(m)]


def require(extra: str, needed_for: str, modules: tuple[str, ...] | None = None) -> None:
    """Exit 2 (UserError) naming the pip command when `extra` (or just `modules` of it) is missing.

    `needed_for` completes "… needs `pip install 'ovtool[hf]'`", e.g. "converting a Hugging Face model".
    """
    absent = missing(extra, modules)
    if absent:
        raise UserError(f"{needed_for} needs `pip install 'ovtool[{extra}]'` ({', '.join(absent)} not installed)")


def require_for_source(source_format: str) -> None:
    """Exit 2 when converting a model of `source_format` needs an extra that is not installed."""
    need = SOURCE_NEEDS.get(source_format)
    if need is not None:
        require(*need)
