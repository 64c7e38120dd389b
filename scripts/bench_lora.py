"""Held-out Shakespeare perplexity of a SmolLM2 IR with and without a LoRA adapter, on the OpenVINO side.

The adapter is applied the way `ovtool generate --adapter` applies it (openvino_genai, `adapters=` at
pipeline build, alpha × PEFT's lora_alpha / r); the prompt tokens' log-probabilities come from
openvino_genai itself (ContinuousBatchingPipeline, `echo` + `logprobs`), see
`ovtool.backends.genai.adapters.prompt_logprobs`. The blocks are the held-out plays of
scripts/train_lora.py, tokenized by the IR's own tokenizer. Prints one JSON object on stdout.

    python scripts/bench_lora.py IR_FOLDER [ADAPTER] [--blocks 32] [--precision f32]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _train_lora():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("train_lora", ROOT / "scripts" / "train_lora.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ir", type=Path, help="SmolLM2 IR folder (with tokenizer IRs)")
    parser.add_argument("adapter", nargs="?", default=str(ROOT / ".assets" / "smollm2-lora-shakespeare"))
    parser.add_argument("--blocks", type=int, default=32, help="held-out blocks of 64 tokens")
    parser.add_argument("--precision", default="f32", help="INFERENCE_PRECISION_HINT (f32: an accuracy figure)")
    args = parser.parse_args(argv)

    import openvino_genai as ov_genai

    from ovtool.backends.genai.adapters import check_adapters, prompt_logprobs

    train_lora = _train_lora()
    text = train_lora.play_text(train_lora.play_files(train_lora.PLAYS, held_out=True))
    ids = ov_genai.Tokenizer(str(args.ir)).encode(text, add_special_tokens=False).input_ids.data[0].tolist()
    length = train_lora.BLOCK_TOKENS
    blocks = [ids[i : i + length] for i in range(0, len(ids) - length, length)]  # as train_lora.eval_blocks
    blocks = blocks[:: max(len(blocks) // args.blocks, 1)][: args.blocks]
    props = {"INFERENCE_PRECISION_HINT": args.precision}
    figures = {}
    for name, items in (("base", []), ("adapter", [(args.adapter, 1.0)])):
        applied = check_adapters(items, args.ir / "openvino_model.xml")
        start = time.perf_counter()
        rows = prompt_logprobs(args.ir, "CPU", props, applied, blocks)
        values = [v for row in rows for v in row]
        figures[name] = {"perplexity": round(math.exp(-sum(values) / len(values)), 3), "tokens": len(values),
                         "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    figures["ratio"] = round(figures["adapter"]["perplexity"] / figures["base"]["perplexity"], 4)
    figures["blocks"] = len(blocks)
    figures["precision"] = args.precision
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
