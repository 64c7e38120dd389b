"""What the stage cache saves: the SmolLM2 quickstart recipe run twice, whole `ovtool run` processes.

Both runs use one fresh `OVTOOL_CACHE` and two new OUTs. The first converts (GGUF → fp16 IR) and
compresses (INT4); the second must do neither (run.json: convert and quantize `cache.status: hit`) and take
≤ 15 % of the first's wall time. The quickstart recipe opts in to `cache.measurements`, so its figures come
back from the cache on the same machine too; `--remeasure` adds a third run with
`--set cache.measurements=false`, which reuses the IRs but takes quantize's perplexity, tokens/s and
generate's answer again (what a recipe without the opt-in costs on a re-run).
Usage (from the repo root, after `make install`):

    .venv/bin/python scripts/bench_cache.py [--remeasure]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OVTOOL = Path(sys.executable).with_name("ovtool")
RECIPE = ROOT / "recipes" / "smollm2-int4-quickstart.yaml"
GOAL = 0.15


def cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.is_file() else []
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor())


def timed_run(out: Path, env: dict[str, str], *extra: str) -> tuple[float, dict[str, str]]:
    """Wall time of one `ovtool run` process and its stages' cache statuses."""
    start = time.perf_counter()
    proc = subprocess.run([str(OVTOOL), "run", str(RECIPE), "-o", str(out), *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"ovtool run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stages = json.loads((out / "run.json").read_text())["stages"]
    return seconds, {s["stage"]: s["cache"]["status"] for s in stages}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remeasure", action="store_true", help="also a run with cache.measurements=false")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        env = {**os.environ, "OVTOOL_CACHE": str(Path(tmp) / "cache"), "HF_HUB_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
        first, cold = timed_run(Path(tmp) / "first", env)
        second, warm = timed_run(Path(tmp) / "second", env)
        print(f"CPU: {cpu_name()} ({os.cpu_count()} cores)")
        print(f"first run  (empty cache): {first:7.1f} s  cache {cold}")
        print(f"second run (same recipe): {second:7.1f} s  cache {warm}")
        ratio = second / first
        print(f"ratio second/first: {ratio:.3f} (goal ≤ {GOAL})")
        reused = warm.get("convert") == "hit" and warm.get("quantize") == "hit"
        print(f"no conversion and no quantization on the second run: {'yes' if reused else 'NO'}")
        if args.remeasure:
            third, stats = timed_run(Path(tmp) / "third", env, "--set", "cache.measurements=false")
            print(f"cache.measurements=false:  {third:7.1f} s  cache {stats}  ratio {third / first:.3f}")
    return 0 if reused and ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
