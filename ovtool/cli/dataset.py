"""`ovtool dataset` (pending: built by its own issue)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Dataset tools (Datumaro): detect, convert, stats, validate, split, filter, merge, encrypt.")


@app.callback(invoke_without_command=True)
def dataset() -> None:
    """Dataset tools (not implemented yet)."""
    from ovtool import console

    console.error("`ovtool dataset` is not implemented yet")
    raise typer.Exit(1)
