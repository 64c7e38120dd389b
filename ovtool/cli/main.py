"""The `ovtool` entry point: registers every command; heavy libraries load only inside commands."""

from __future__ import annotations

from typing import Annotated

import typer

from ovtool import __version__
from ovtool.cli import benchmark, dataset, distill, generate, prune, quantize, recipe_cmd
from ovtool.cli import convert as convert_cmd
from ovtool.cli import run as run_cmd

app = typer.Typer(
    name="ovtool",
    help="From a source model to an optimized, measured OpenVINO IR — one YAML recipe, reproducibly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: typer.rich_utils costs ~65 ms of the 150 ms budget
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
app.command("quantize")(quantize.quantize)
app.command("prune")(prune.prune)
app.command("distill")(distill.distill)
app.command("benchmark")(benchmark.benchmark)
app.command("generate")(generate.generate)
app.add_typer(dataset.app, name="dataset")
app.command("run")(run_cmd.run)
app.add_typer(recipe_cmd.app, name="recipe")


def main() -> None:
    app()
