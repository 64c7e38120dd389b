"""`ovtool --help` against `optimum-cli --help`: whole processes, paired, median ratio (target ≤ 1.0).

Absolute times differ threefold between machines, so the figure is a ratio measured side by side:
the two commands run in turn (A B A B …, at least 11 pairs), each pair gives A/B, and the median of
those ratios is reported (wall and CPU = user + system of the child), with the CPU's name. Also
checks that `ovtool --help` imports no heavy library. Exit 0 when both hold.

    .venv/bin/python scripts/bench_help_time.py [PAIRS]
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("openvino", "nncf", "optimum", "transformers", "torch", "datumaro", "openvino_genai", "pydantic", "yaml")
BIN = Path(sys.executable).parent


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall s, cpu s) of one whole process, its start-up included; output discarded."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def heavy_imports() -> list[str]:
    """Top-level packages `ovtool --help` (the real entry point, main()) imports that are heavy."""
    probe = (
        "import sys\nsys.argv = ['ovtool', '--help']\nfrom ovtool.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('LOADED ' + ','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(proc.stderr.rsplit("LOADED ", 1)[1].strip().split(","))
    return sorted(loaded & set(HEAVY))


def main(pairs: int = 21) -> int:
    pairs = max(pairs, 11)
    a_cmd, b_cmd = [str(BIN / "ovtool"), "--help"], [str(BIN / "optimum-cli"), "--help"]
    for argv in (a_cmd, b_cmd):  # warm the page cache; not counted
        timed(argv)
    a_runs, b_runs = [], []
    for _ in range(pairs):
        a_runs.append(timed(a_cmd))
        b_runs.append(timed(b_cmd))
    wall_ratio = statistics.median(a[0] / b[0] for a, b in zip(a_runs, b_runs, strict=True))
    cpu_ratio = statistics.median(a[1] / b[1] for a, b in zip(a_runs, b_runs, strict=True) if b[1] > 0)
    ms = lambda runs, i: statistics.median(r[i] for r in runs) * 1000  # noqa: E731
    heavy = heavy_imports()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); {pairs} pairs, A B A B …, whole processes")
    print(f"ovtool --help       median wall {ms(a_runs, 0):.0f} ms, cpu {ms(a_runs, 1):.0f} ms")
    print(f"optimum-cli --help  median wall {ms(b_runs, 0):.0f} ms, cpu {ms(b_runs, 1):.0f} ms")
    print(f"ratio ovtool/optimum-cli (median of pairs): wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x; target <= 1.0")
    print(f"heavy modules imported by `ovtool --help`: {heavy or 'none'}")
    return 0 if wall_ratio <= 1.0 and not heavy else 1


if __name__ == "__main__":
    raise SystemExit(main(*(int(a) for a in sys.argv[1:2])))
