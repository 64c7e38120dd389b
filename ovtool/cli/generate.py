"""`ovtool generate`: text from an LLM IR (or any source convert accepts) with openvino_genai.

stdout carries the generated text only (JSON lines for a prompts file); progress and metrics go
to stderr. `--chat` opens an interactive session (ovtool/cli/chat.py) instead of a run.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ovtool.cli.common import (
    DryRunOpt,
    JsonOpt,
    ModelOpt,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    RecipeArg,
    SetOpt,
    VerboseOpt,
    WaitOpt,
    guarded,
    run_stage_command,
)  # fmt: skip


def _read_stdin_prompt(prompt: str | None) -> str | None:
    """`-p -` reads the prompt from stdin (so `echo question | ovtool generate -m IR -p -` works)."""
    if prompt != "-":
        return prompt
    return sys.stdin.read().rstrip("\n")


@guarded
def generate(
    recipe: RecipeArg = None,
    model: ModelOpt = None,
    output: OutputOpt = None,
    prompt: Annotated[str | None, typer.Option("-p", "--prompt", help="The prompt; `-' reads stdin.")] = None,
    prompt_file: Annotated[str | None, typer.Option("--prompt-file", help="A text file holding one prompt.")] = None,
    prompts: Annotated[
        str | None,
        typer.Option(
            "--prompts",
            help='Many prompts: .jsonl ({"prompt": …} per line) or .txt '
            "(one per line) → OUT/outputs.jsonl and JSON lines on stdout.",
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="System prompt.")] = None,
    no_chat_template: Annotated[
        bool, typer.Option("--no-chat-template", help="Send the prompt raw, without the model's chat template.")
    ] = False,
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens", help="Default 256.")] = None,
    min_new_tokens: Annotated[int | None, typer.Option("--min-new-tokens")] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Random sampling (default: greedy).")] = False,
    temperature: Annotated[float | None, typer.Option("--temperature")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k")] = None,
    top_p: Annotated[float | None, typer.Option("--top-p")] = None,
    repetition_penalty: Annotated[float | None, typer.Option("--repetition-penalty")] = None,
    stop: Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Same seed → same text.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Prompts decoded together.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="OpenVINO device (default CPU).")] = None,
    draft: Annotated[
        str | None,
        typer.Option("--draft", help="Draft model for speculative decoding (e.g. an INT4 copy of the model)."),
    ] = None,
    prompt_lookup: Annotated[bool, typer.Option("--prompt-lookup", help="Prompt-lookup decoding.")] = False,
    num_assistant_tokens: Annotated[
        int | None, typer.Option("--num-assistant-tokens", help="Tokens proposed per step (default 5).")
    ] = None,
    chat: Annotated[bool, typer.Option("--chat", help="Interactive chat: /reset, /exit; tokens streamed.")] = False,
    sets: SetOpt = None,
    overwrite: OverwriteOpt = False,
    wait: WaitOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Generate text with an LLM (openvino_genai): one prompt, a prompt file, a batch, or --chat."""
    speculative = {
        "draft": draft,
        "prompt_lookup": True if prompt_lookup else None,
        "num_assistant_tokens": num_assistant_tokens,
    }
    flags = {
        "seed": seed,
        "generate.prompt": None if chat else _read_stdin_prompt(prompt),
        "generate.prompt_file": prompt_file,
        "generate.prompts": prompts,
        "generate.system_prompt": system,
        "generate.chat_template": False if no_chat_template else None,
        "generate.max_new_tokens": max_new_tokens,
        "generate.min_new_tokens": min_new_tokens,
        "generate.do_sample": True if sample else None,
        "generate.temperature": temperature,
        "generate.top_k": top_k,
        "generate.top_p": top_p,
        "generate.repetition_penalty": repetition_penalty,
        "generate.stop": stop or None,
        "generate.batch_size": batch_size,
        "generate.device": device,
    }
    flags |= {f"generate.speculative.{k}": v for k, v in speculative.items()}
    if chat:
        from ovtool.cli.chat import run_chat

        if prompt is not None or prompt_file is not None or prompts is not None:
            from ovtool.errors import UserError

            raise UserError("--chat reads prompts interactively: drop -p/--prompt-file/--prompts")
        run_chat(recipe=recipe, model=model, output=output, sets=sets, flags=flags, dry_run=dry_run,
                 verbose=verbose, quiet=quiet)  # fmt: skip
        return
    run_stage_command(
        "generate",
        recipe=recipe, model=model, output=output, sets=sets, overwrite=overwrite, dry_run=dry_run, wait=wait,
        json_out=json_out, verbose=verbose, quiet=quiet, flags=flags,
    )  # fmt: skip
