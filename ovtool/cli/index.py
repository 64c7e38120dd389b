"""The command index: every command's name and one-line summary, and the root Typer app.

Why a separate index: `ovtool --help` lists the commands, which needs only their names and
summaries. main.py builds the root help from this index with placeholder commands (the command
modules, their flag tables and Typer's signature processing are skipped: ~25 ms of a ~130 ms
budget), and every other invocation from the same `make_app` with the real commands, so both
are rendered by Typer from the same declarations (a test checks the two outputs are identical).
"""


from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

from ovtool import __version__

ROOT_HELP = (
    "From a source model to an optimized, measured OpenVINO IR — one YAML recipe, reproducibly.\n\n"
    "Every stage command takes a recipe (its first argument, or -r/--recipe), flags, or both; flags and "
    "--set win over the recipe. `ovtool COMMAND --help` shows runnable examples."
)
SUMMARIES = {
    "convert": "Convert a Hugging Face folder, GGUF, ONNX, TFLite, TF, Paddle or PyTorch model to OpenVINO IR.",
    "quantize": "Quantize a model (INT8/FP8 PTQ or INT4/INT8/NF4… weights) and report the quality and speed it cost.",
    "prune": "Prune a Hugging Face encoder: remove heads/FFN neurons by gradient importance, or NNCF sparsity.",
    "distill": "Distil a Hugging Face teacher into a smaller student; with structured + qat sections: JPQD → INT8 IR.",
    "benchmark": "Measure latency, throughput and LLM metrics; several -m are measured side by side.",
    "generate": "Generate text with an LLM (openvino_genai): one prompt, a prompt file, a batch, or --chat.",
    "run": "Run every stage section of RECIPE (dataset → convert → prune → distill → quantize → benchmark → generate).",
    "sweep": "Run trials of a recipe over axes (group size, ratio, preset…), report the Pareto front, pick a winner.",
    "clean": "Remove the staging and scratch folders of ovtool runs that were killed (SIGKILL, power loss).",
    "tune": "Measure which precision / KV cache / threads run an IR fastest on this machine; store and reuse it.",
    "env": "This machine as ovtool sees it: CPU, ISA features (VNNI, AMX, BF16…), versions, defaults in force.",
}
GROUPS = {
    "dataset": "Dataset tools: detect, convert, stats, validate, split, filter, merge, encrypt, decrypt, sample.",
    "recipe": "Validate, show, export the schema of, or start a recipe.",
    "cache": "The stage cache: list (ls), disk use (du), prune by age or size, clear.",
}
# The same for every Typer app of ovtool (root and groups).
SETTINGS: dict[str, Any] = {
    "no_args_is_help": True,
    "rich_markup_mode": "rich",
    "suggest_commands": False,  # click already says "Did you mean"; Typer's would say it a second time
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


def group(name: str) -> typer.Typer:
    """An empty `ovtool NAME` group (dataset, recipe) with its summary; the caller adds commands."""
    return typer.Typer(help=GROUPS[name], **SETTINGS)


def make_app(commands: Mapping[str, Callable[..., Any]] | None = None,
             groups: Mapping[str, typer.Typer] | None = None) -> typer.Typer:  # fmt: skip
    """The root app; a command or group not in `commands`/`groups` is a placeholder (root help, or
    the one command an invocation names: main.py builds only that one for real)."""
    app = typer.Typer(name="ovtool", help=ROOT_HELP, pretty_exceptions_enable=False, **SETTINGS)
    app.callback()(_root)
    for name, summary in SUMMARIES.items():
        if commands is None or name not in commands:
            app.command(name, help=summary)(_placeholder)
        else:
            app.command(name)(commands[name])
    for name in GROUPS:
        app.add_typer(group(name) if groups is None or name not in groups else groups[name], name=name)
    return app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ovtool {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """ovtool: convert, quantize, prune, distill, benchmark, generate — and `run` a whole recipe."""


def _placeholder() -> None:
    raise RuntimeError("a placeholder command ran: main() builds the full app for anything but root help")
