"""`ovtool recipe validate|show|schema|init`: work with recipe files without running anything."""

from __future__ import annotations

from pathlib import Path

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import COMMON, OUTPUT, SHARED, Flag
from ovtool.cli.index import group

app = group("recipe")
SET = next(f for f in SHARED if f.name == "sets")


def _validate(call: Call) -> None:
    from ovtool import console
    from ovtool.errors import RecipeError, UserError
    from ovtool.recipe.loader import load_recipe

    files = call["files"]
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


def _show(call: Call) -> None:
    from ovtool import console
    from ovtool.recipe.loader import load_recipe

    console.result(load_recipe(call["file"], call["sets"] or []).resolved_yaml())


def _schema(call: Call) -> None:
    from ovtool import console

    if call["markdown"]:
        from ovtool.recipe.reference import render_reference

        console.result(render_reference())
        return
    from ovtool.recipe.schema import Recipe

    console.result_json(Recipe.model_json_schema())


def _init(call: Call) -> None:
    from ovtool import console
    from ovtool.errors import UserError
    from ovtool.recipe.starters import available, starter_text

    kind, output = call["kind"], call["output"]
    if kind == "list":
        console.result("\n".join(available()))
        return
    text = starter_text(kind)
    if output is None:
        console.result(text)
        return
    if output.is_dir():
        raise UserError(f"{output} is a folder: give the recipe file to write with -o, e.g. -o {output / kind}.yaml")
    if output.exists() and not call["overwrite"]:
        raise UserError(f"{output} exists: pass --overwrite or choose another -o")
    if not output.parent.is_dir():
        raise UserError(f"cannot write {output}: the folder {output.parent} does not exist")
    write_file(output, text)
    console.info(f"wrote {output}")


def write_file(path: Path, text: str) -> None:
    """Through a temp file beside it and a rename (`write_atomic`): never half a recipe; an OSError is exit 2."""
    from ovtool.artifacts import write_atomic
    from ovtool.errors import UserError

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc


app.command("validate")(command("validate", (
    Flag("files", type=Path, argument=True, required=True, repeatable=True, help="Recipe files to check."),
), "Check recipe files against the schema; every problem is listed; exit 2 if any file is invalid.",
examples=examples("""
    # every shipped recipe
    recipe validate recipes/*.yaml
    # the resolved recipe a run saved
    recipe validate runs/smollm2-int4-quickstart/recipe.yaml
"""), body=_validate))  # fmt: skip
app.command("show")(command("show", (
    Flag("file", type=Path, argument=True, required=True, help="Recipe file."), SET,
), "Print the resolved recipe (defaults filled in, --set applied) as YAML.", examples=examples("""
    # every default filled in
    recipe show recipes/smollm2-int4-quickstart.yaml
    # with an override
    recipe show recipes/minilm-convert.yaml --set convert.weight_format=fp16
"""), body=_show))  # fmt: skip
app.command("schema")(command("schema", (
    Flag("--markdown", type=bool, default=False, panel=OUTPUT, help="The reference as Markdown tables instead."),
), "Print the recipe JSON Schema (point your editor's YAML support at it for completion).", examples=examples("""
    # for the editor's YAML language server
    recipe schema > ovtool-recipe.schema.json
    # the reference tables in README.md
    recipe schema --markdown
"""), body=_schema))  # fmt: skip
app.command("init")(command("init", (
    Flag("kind", argument=True, required=True, help="Starter kind; `ovtool recipe init list` lists them."),
    Flag(("-o", "--output"), type=Path, panel=OUTPUT, help="Write to this file."),
    Flag("--overwrite", type=bool, default=False, panel=COMMON, help="Replace an existing file."),
), "Print (or write) a commented starter recipe.", examples=examples("""
    # the starter kinds
    recipe init list
    # a commented INT8 quantization recipe to edit
    recipe init ptq-int8 -o my-ptq.yaml
"""), body=_init))  # fmt: skip
