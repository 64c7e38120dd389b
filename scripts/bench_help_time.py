"""Median wall time of `ovtool --help` in fresh interpreters (target ≤ 0.15 s), and what it imports."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("openvino", "nncf", "optimum", "transformers", "torch", "datumaro", "openvino_genai")


def main(runs: int = 21) -> int:
    exe = str(Path(sys.executable).with_name("ovtool"))
    subprocess.run([exe, "--help"], capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    probe = "import sys; from ovtool.cli.main import app; print(','.join(sorted(m.split('.')[0] for m in sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
                 .stdout.strip().split(","))  # fmt: skip
    heavy = sorted(loaded & set(HEAVY))
    median = statistics.median(times)
    print(f"ovtool --help: median {median * 1000:.0f} ms over {runs} runs "
          f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms); target <= 150 ms")  # fmt: skip
    print(f"heavy modules imported: {heavy or 'none'}")
    return 0 if median <= 0.15 and not heavy else 1


if __name__ == "__main__":
    raise SystemExit(main())
