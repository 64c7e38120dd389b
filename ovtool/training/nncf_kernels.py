"""NNCF's torch CPU kernels (quantized_functions_cpu): compiled with the C++ compiler on first use.

NNCF compiles them the first time a quantization-aware model runs and gives up after
NNCF_EXTENSION_LOAD_TIMEOUT seconds (60 by default) — less than a fresh or busy 2-core machine needs,
so a first JPQD run died with ExtensionLoaderTimeoutException. ovtool raises the limit when the user
has not set it, and compiles the kernels itself before training (no limit, told on stderr, timed), so
the first run is slow once instead of failing. `make install` runs scripts/warm_nncf.py, which calls
`ensure_cpu_kernels()`, so tests never meet the compile cold.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ovtool import console

TIMEOUT_ENV = "NNCF_EXTENSION_LOAD_TIMEOUT"
DEFAULT_TIMEOUT_S = 600


def set_load_timeout() -> None:
    """A generous NNCF extension load limit unless the user chose one (0 = none, as NNCF reads it)."""
    os.environ.setdefault(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S))


def _cpu_loaders() -> list[type]:
    import nncf.torch.quantization.extensions  # noqa: F401  (registers the loaders)
    from nncf.torch.extensions import EXTENSIONS, ExtensionsType

    return [c for c in EXTENSIONS.registry_dict.values() if c.extension_type() == ExtensionsType.CPU]


def _built(loader: type) -> bool:
    """The kernel's shared library is in its build folder (torch rebuilds only if the sources changed)."""
    return any(Path(loader.get_build_dir()).glob(f"{loader.name()}*.so"))


def ensure_cpu_kernels() -> float | None:
    """Compile NNCF's CPU kernels if they are not built yet, saying so on stderr.

    Returns the seconds the compile took, or None when they were built already (the usual case).
    """
    set_load_timeout()
    cold = [loader for loader in _cpu_loaders() if not _built(loader)]
    if not cold:
        return None
    console.info("compiling NNCF's CPU kernels with the C++ compiler (first run on this machine only; "
                 "this can take a few minutes)…")  # fmt: skip
    start = time.monotonic()
    for loader in cold:
        loader.load()  # no time limit here; a failed compile makes NNCF fall back to slower torch ops
    seconds = time.monotonic() - start
    where = Path(cold[0].get_build_dir())
    console.info(f"NNCF's CPU kernels compiled in {seconds:.0f} s (kept in {where}; later runs reuse them)")
    return seconds
