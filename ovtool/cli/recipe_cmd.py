"""`ovtool recipe validate|show|schema|init`: work with recipe files without running anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovtool.cli.common import SetOpt, guarded

app = typer.Typer(
    help="Validate, show, export the schema of, or start a recipe.", no_args_is_help=True, rich_markup_mode=None
)


@app.command()
@guarded
def validate(files: Annotated[list[Path], typer.Argument(help="Recipe files to check.")]) -> None:
    """Check recipe files against the schema; every problem is listed; exit 2 if any file is invalid."""
    from ovtool import console
    from ovtool.errors import RecipeError, UserError
    from ovtool.recipe.loader import load_recipe

    failed = 0
    for path in files:
        try:
            load_recipe(path)
            console.result(f"{path}: ok")
        except RecipeError as exc:
            failed += 1
            console.error(str(exc))
    if failed:
        raise UserError(f"{failed} of {len(files)} recipe(s) invalid")


@app.command()
@guarded
def show(
    file: Annotated[Path, typer.Argument(help="Recipe file.")],
    sets: SetOpt = None,
) -> None:
    """Print the resolved recipe (defaults filled in, --set applied) as YAML."""
    from ovtool import console
    from ovtool.recipe.loader import load_recipe

    console.result(load_recipe(file, sets or []).resolved_yaml())


@app.command()
@guarded
def schema(
    markdown: Annotated[bool, typer.Option("--markdown", help="The reference as Markdown tables instead.")] = False,
) -> None:
    """Print the recipe JSON Schema (point your editor's YAML support at it for completion)."""
    from ovtool import console

    if markdown:
        from ovtool.recipe.reference import render_reference

        console.result(render_reference())
        return
    from ovtool.recipe.schema import Recipe

    console.result_json(Recipe.model_json_schema())


@app.command()
@guarded
def init(
    kind: Annotated[str, typer.Argument(help="Starter kind; `ovtool recipe init list` lists them.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing file.")] = False,
) -> None:
    """Print (or write) a commented starter recipe."""
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.recipe.starters import available, starter_text

    if kind == "list":
        console.result("\n".join(available()))
        return
    text = starter_text(kind)
    if output is None:
        console.result(text)
        return
    if output.exists() and not overwrite:
        raise UserError(f"{output} exists: pass --overwrite or choose another -o")
    output.write_text(text)
    console.info(f"wrote {output}")
