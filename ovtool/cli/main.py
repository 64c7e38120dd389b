"""The `ovtool` entry point: registers every command; heavy libraries load only inside commands."""

from __future__ import annotations

from typing import Annotated

import typer

from ovtool import __version__
from ovtool.cli import convert as convert_cmd
from ovtool.cli import recipe_cmd
from ovtool.cli import run as run_cmd
from ovtool.cli.pending import make_pending_command

app = typer.Typer(
    name="ovtool",
    help="From a source model to an optimized, measured OpenVINO IR — one YAML recipe, reproducibly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ovtool {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """ovtool: convert, quantize, prune, distill, benchmark, generate — and `run` a whole recipe."""


app.command("convert")(convert_cmd.convert)
app.command("quantize")(make_pending_command("quantize", "Quantize an IR (INT8/FP8 PTQ, weight compression)."))
app.command("prune")(make_pending_command("prune", "Prune a transformer (structured or unstructured)."))
app.command("distill")(make_pending_command("distill", "Distill a teacher into a student (and JPQD)."))
app.command("benchmark")(make_pending_command("benchmark", "Measure latency, throughput and LLM metrics."))
app.command("generate")(make_pending_command("generate", "Generate text with an LLM IR."))
app.command("dataset")(make_pending_command("dataset", "Dataset tools (Datumaro)."))
app.command("run")(run_cmd.run)
app.add_typer(recipe_cmd.app, name="recipe")


def main() -> None:
    app()
