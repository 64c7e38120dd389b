"""The `ovtool` entry point: registers every command; heavy libraries load only inside commands."""

from __future__ import annotations

from typing import Annotated

import typer

from ovtool import __version__
from ovtool.cli import benchmark, clean, dataset, distill, generate, prune, quantize, recipe_cmd
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
app.command("clean")(clean.clean)


def no_telemetry() -> None:
    """ovtool sends no usage data: OpenVINO's telemetry is switched off for this process.

    The installed openvino_telemetry has no environment switch: it reads a consent file in
    ~/intel (the user's, left alone) and skips CI jobs detected by CI=true, which would also
    change transformers' logging and torch's config. Its two callers, ovc (used by optimum and
    openvino.convert_model) and NNCF, fall back to their own no-op stubs when it cannot be
    imported, so it is made unimportable here; forked children inherit that. An entry someone
    already put in sys.modules (a test, an embedding program) is kept.
    """
    import sys

    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]


def main() -> None:
    no_telemetry()
    app()
