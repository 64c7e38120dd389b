"""`ovtool dataset <verb>`: one subcommand per verb, each a thin map of flags onto the `dataset:` section."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ovtool.cli.common import (
    DryRunOpt,
    JsonOpt,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    SetOpt,
    VerboseOpt,
    WaitOpt,
    guarded,
    run_stage_command,
)  # fmt: skip

app = typer.Typer(
    help="Dataset tools: detect, convert, stats, validate, split, filter, merge, encrypt, decrypt, sample.",
    no_args_is_help=True,
)

PathArg = Annotated[str, typer.Argument(help="Dataset folder, file (text data) or .zip/.tar archive.")]
RecipeOpt = Annotated[
    Path | None, typer.Option("-r", "--recipe", help="Recipe YAML with a `dataset:` section (flags win).")
]
FormatOpt = Annotated[
    str | None, typer.Option("-f", "--format", help="Input format (Datumaro or text); detected when left out.")
]
ToOpt = Annotated[
    str | None, typer.Option("-t", "--to", "--output-format", help="Format to write (default: the input's).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed for limit/split/sample.")]
KeyEnvOpt = Annotated[str | None, typer.Option("--key-env", help="Environment variable holding the key.")]
KeyFileOpt = Annotated[
    str | None, typer.Option("--key-file", help="Key file (encrypt generates it, mode 0600, when missing).")
]
KindOpt = Annotated[str | None, typer.Option("--kind", help="image or text (detected when left out).")]
TextFieldOpt = Annotated[str | None, typer.Option("--text-field", help="Text data: the text column.")]
LabelFieldOpt = Annotated[str | None, typer.Option("--label-field", help="Text data: the label column.")]
RatioOpt = Annotated[
    list[str] | None, typer.Option("--ratio", help="SUBSET=SHARE, repeatable: --ratio train=0.8 --ratio val=0.2")
]
LabelMapOpt = Annotated[list[str] | None, typer.Option("--label-map", help="OLD=NEW label rename (repeatable).")]
SubsetMapOpt = Annotated[list[str] | None, typer.Option("--subset-map", help="OLD=NEW subset rename (repeatable).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Keep this many items, drawn with the seed.")]
RandomOpt = Annotated[
    bool | None, typer.Option("--stratified/--random", help="Keep label shares per subset (default) or not.")
]


def _pairs(items: list[str] | None, option: str, cast: Any = str) -> dict[str, Any] | None:
    """`--ratio train=0.8` items → {'train': 0.8}."""
    from ovtool.errors import UserError

    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            out[key] = cast(value)
        except ValueError as exc:
            raise UserError(f"{option} {item!r}: {value!r} is not a number") from exc
    return out


def _run(verb: str, path: str, common: dict[str, Any], **flags: Any) -> None:
    recipe = common.pop("recipe")
    run_stage_command(
        "dataset", recipe=recipe, model=None, **common,
        flags={"dataset.verb": verb, "dataset.path": path, **{f"dataset.{k}": v for k, v in flags.items()}},
    )  # fmt: skip


def _common(recipe: Path | None, output: Path | None, sets: list[str] | None, overwrite: bool, wait: bool,
            dry_run: bool, json_out: bool, verbose: int, quiet: bool) -> dict[str, Any]:  # fmt: skip
    return {"recipe": recipe, "output": output, "sets": sets, "overwrite": overwrite, "wait": wait,
            "dry_run": dry_run, "json_out": json_out, "verbose": verbose, "quiet": quiet}  # fmt: skip


@app.command("detect")
@guarded
def detect(
    path: PathArg, recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Detect the dataset format, and say why every other format was rejected."""
    _run("detect", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet))


@app.command("convert")
@guarded
def convert(
    path: PathArg, to: ToOpt = None, fmt: FormatOpt = None,
    save_media: Annotated[bool | None, typer.Option("--save-media/--no-save-media", help="Copy images.")] = None,
    image_ext: Annotated[str | None, typer.Option("--image-ext", help="Image extension to write, e.g. .png")] = None,
    label_map: LabelMapOpt = None, subset_map: SubsetMapOpt = None, ratio: RatioOpt = None,
    stratified: RandomOpt = None, limit: LimitOpt = None, seed: SeedOpt = None,
    key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Convert between Datumaro formats (VOC, COCO, YOLO, YOLO-Ultralytics, CVAT, ImageNet, …)."""
    _run("convert", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         output_format=to, format=fmt, save_media=save_media, image_ext=image_ext,
         label_map=_pairs(label_map, "--label-map"), subset_map=_pairs(subset_map, "--subset-map"),
         ratios=_pairs(ratio, "--ratio", float), stratified=stratified, limit=limit, seed=seed,
         key_env=key_env, key_file=key_file)  # fmt: skip


@app.command("stats")
@guarded
def stats(
    path: PathArg, fmt: FormatOpt = None, kind: KindOpt = None,
    image_stats: Annotated[bool | None, typer.Option("--image-stats", help="Also pixel mean/std.")] = None,
    text_field: TextFieldOpt = None, label_field: LabelFieldOpt = None,
    key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Items per subset and label, image and box sizes, annotation counts → run.json, report.md, report.html."""
    _run("stats", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         format=fmt, kind=kind, image_stats=image_stats, text_field=text_field, label_field=label_field,
         key_env=key_env, key_file=key_file)  # fmt: skip


@app.command("validate")
@guarded
def validate(
    path: PathArg, fmt: FormatOpt = None,
    task: Annotated[str | None, typer.Option("--task", help="classification, detection or segmentation.")] = None,
    key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Check annotations for a task; exit 3 when the validation finds errors."""
    _run("validate", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         format=fmt, task=task, key_env=key_env, key_file=key_file)  # fmt: skip


@app.command("split")
@guarded
def split(
    path: PathArg, ratio: RatioOpt = None, stratified: RandomOpt = None, seed: SeedOpt = None,
    fmt: FormatOpt = None, to: ToOpt = None, kind: KindOpt = None,
    text_field: TextFieldOpt = None, label_field: LabelFieldOpt = None,
    key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Split into subsets (stratified by label or random) with the given shares and seed."""
    _run("split", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         ratios=_pairs(ratio, "--ratio", float), stratified=stratified, seed=seed, format=fmt, output_format=to,
         kind=kind, text_field=text_field, label_field=label_field, key_env=key_env, key_file=key_file)  # fmt: skip


@app.command("filter")
@guarded
def filter_(
    path: PathArg,
    expression: Annotated[str | None, typer.Option("-e", "--expression", help="Datumaro XPath expression.")] = None,
    annotations: Annotated[
        bool | None, typer.Option("--annotations", help="The expression selects annotations, not items.")
    ] = None,
    remove_empty: Annotated[bool | None, typer.Option("--remove-empty", help="Drop items left empty.")] = None,
    fmt: FormatOpt = None, to: ToOpt = None, key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Keep the items (or annotations) an XPath expression selects."""
    _run("filter", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         expression=expression, filter_annotations=annotations, remove_empty=remove_empty, format=fmt,
         output_format=to, key_env=key_env, key_file=key_file)  # fmt: skip


@app.command("merge")
@guarded
def merge(
    path: PathArg,
    others: Annotated[list[str], typer.Argument(help="More datasets to merge into PATH.", show_default=False)],
    policy: Annotated[str | None, typer.Option("--policy", help="union, exact or intersect.")] = None,
    fmt: FormatOpt = None, to: ToOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Merge datasets (Datumaro merge policies)."""
    _run("merge", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         merge_with=others, merge_policy=policy, format=fmt, output_format=to)  # fmt: skip


@app.command("encrypt")
@guarded
def encrypt(
    path: PathArg, key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None, fmt: FormatOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Encrypt annotations and media (Fernet) into a self-describing folder; the key stays out of OUT."""
    _run("encrypt", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         key_env=key_env, key_file=key_file, format=fmt)  # fmt: skip


@app.command("decrypt")
@guarded
def decrypt(
    path: PathArg, key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Restore an encrypted dataset, byte-identical; a wrong key exits 2."""
    _run("decrypt", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         key_env=key_env, key_file=key_file)  # fmt: skip


@app.command("sample")
@guarded
def sample(
    path: PathArg,
    samples: Annotated[int | None, typer.Option("-n", "--samples", help="How many samples to draw.")] = None,
    seed: SeedOpt = None, fmt: FormatOpt = None, to: ToOpt = None,
    text_field: TextFieldOpt = None, label_field: LabelFieldOpt = None,
    key_env: KeyEnvOpt = None, key_file: KeyFileOpt = None,
    recipe: RecipeOpt = None, output: OutputOpt = None, sets: SetOpt = None,
    overwrite: OverwriteOpt = False, wait: WaitOpt = False, dry_run: DryRunOpt = False, json_out: JsonOpt = False,
    verbose: VerboseOpt = 0, quiet: QuietOpt = False,
) -> None:  # fmt: skip
    """Draw N text samples (seeded) into OUT/dataset/sample.jsonl."""
    _run("sample", path, _common(recipe, output, sets, overwrite, wait, dry_run, json_out, verbose, quiet),
         samples=samples, seed=seed, format=fmt, output_format=to, kind="text", text_field=text_field,
         label_field=label_field, key_env=key_env, key_file=key_file)  # fmt: skip
