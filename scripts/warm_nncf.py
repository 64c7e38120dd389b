"""Compile NNCF's torch CPU kernels once, at `make install`, so no test (or first run) meets the compile cold.

Without torch (a core install) there is nothing to compile and the script says so.
"""

from __future__ import annotations

import importlib.util
import sys

from ovtool.training.nncf_kernels import ensure_cpu_kernels


def main() -> int:
    if importlib.util.find_spec("torch") is None:
        print("warm_nncf: torch is not installed (core install): no NNCF kernels to compile", file=sys.stderr)
        return 0
    seconds = ensure_cpu_kernels()
    if seconds is None:
        print("warm_nncf: NNCF's CPU kernels are already compiled", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
