"""One declaration per command-line flag: names, the recipe key it sets, type, help, panel.

Each command module holds one table of `Flag`s; `ovtool/cli/build.py` generates both the Typer
signature and the flag → dotted-recipe-key mapping from it, so adding a flag is one line in one
table (docs/DEVELOPING.md). The options every command shares are declared here, once.

Only stdlib at the top: `ovtool --help` builds every command from these tables and must stay
light, so no pydantic/recipe import (a test checks that each `choices` equals the schema's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Help panels, in the order they are shown.
MODEL = "Model"
DATA = "Data"
PERFORMANCE = "Performance"
OUTPUT = "Output"
COMMON = "Common"
PANELS = (MODEL, DATA, PERFORMANCE, OUTPUT, COMMON)


@dataclass(frozen=True)
class Flag:
    """One option (or positional argument) of a command and the recipe key it sets.

    `key` is the dotted recipe key the value lands on (None: the command reads it itself, e.g.
    `--chat`). A mapping {key: flag param} sets each key only when that other flag was given too
    (`quantize --data-kind` goes with whichever of --calibration/--evaluation came with it).
    A value left out is None and changes nothing, so `false`/`0` can still override the recipe.
    """

    names: str | tuple[str, ...]
    key: str | Mapping[str, str] | None = None
    type: Any = str
    help: str = ""
    panel: str = MODEL
    choices: tuple[str, ...] = ()
    repeatable: bool = False
    param: str = ""  # the Python name; derived from the longest flag name when empty
    value: Any = True  # a switch (type bool) sets this when given
    convert: Callable[[Any], Any] | None = None  # raw value → recipe value (e.g. KEY=VALUE items → dict)
    default: Any = None
    count: bool = False
    argument: bool = False  # a positional argument (names is its name)
    required: bool = False  # arguments only
    metavar: str | None = None

    @property
    def decls(self) -> tuple[str, ...]:
        return (self.names,) if isinstance(self.names, str) else self.names

    @property
    def name(self) -> str:
        """The Python parameter name (also the key in the values a command body receives)."""
        if self.param:
            return self.param
        longest = max(self.decls, key=len).split("/")[0]
        return longest.lstrip("-").replace("-", "_")

    @property
    def switch(self) -> bool:
        return self.type is bool and not self.argument

    def recipe_value(self, raw: Any) -> Any:
        """What the recipe key receives for the parsed value `raw` (None: the flag was left out)."""
        if raw is None or (self.repeatable and not raw):
            return None
        if self.switch and "/" not in self.decls[0]:
            return self.value if raw else None
        if self.convert is not None:
            return self.convert(list(raw) if self.repeatable else raw)
        return list(raw) if self.repeatable else raw


def to_recipe(flags: tuple[Flag, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The flag → dotted-key mapping `load_recipe` applies (flags win over the recipe)."""
    out: dict[str, Any] = {}
    for flag in flags:
        if flag.key is None:
            continue
        value = flag.recipe_value(values.get(flag.name))
        if isinstance(flag.key, str):
            out[flag.key] = value
            continue
        for key, companion in flag.key.items():
            out[key] = value if values.get(companion) is not None else None
    return out


def pairs(option: str, cast: Callable[[str], Any] = str) -> Callable[[list[str]], dict[str, Any]]:
    """`--ratio train=0.8 --ratio val=0.2` → {'train': 0.8, 'val': 0.2}; a bad item exits 2 naming it."""

    def parse(items: list[str]) -> dict[str, Any]:
        from ovtool.errors import UserError

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

    return parse


# The recipe: the first argument of a stage command, or -r/--recipe on every command (one rule).
RECIPE = Flag(
    "recipe", type=Path, argument=True, panel=COMMON, metavar="[RECIPE]",
    help="Recipe YAML (optional where flags say enough); the same as -r/--recipe.",
)  # fmt: skip
RECIPE_OPTION = Flag(
    ("-r", "--recipe"), type=Path, param="recipe_option", panel=COMMON, metavar="RECIPE",
    help="Recipe YAML; flags and --set win over it.",
)  # fmt: skip
MODEL_FLAG = Flag(("-m", "--model"), "model", help="Source model: HF folder or hub id, .gguf, .onnx, .xml… "
                  "(overrides `model:`).")  # fmt: skip
OUTPUT_FLAG = Flag(("-o", "--output"), "output", type=Path, panel=OUTPUT, convert=str,
                   help="OUT folder (overrides `output:`).")  # fmt: skip



def labeled_data(section: str) -> Flag:
    """`--data` of the training stages (prune, distill): the same option, each onto its own section."""
    return Flag("--data", f"{section}.data.path", panel=DATA, help="Labeled text: folder per label, .jsonl or .csv.")


def distributed(section: str) -> tuple[Flag, ...]:
    """Multi-process training flags of prune/distill, each onto `<section>.distributed.*`."""
    key = f"{section}.distributed"
    return (
        Flag("--launcher", f"{key}.launcher", choices=("torchrun", "accelerate"), panel=PERFORMANCE,
             help="Train on --nproc processes that ovtool starts with this launcher (it keeps OUT)."),
        Flag("--nproc", f"{key}.nproc", type=int, panel=PERFORMANCE, help="Training processes on this machine."),
        Flag("--nnodes", f"{key}.nnodes", type=int, panel=PERFORMANCE, help="Machines taking part (default 1)."),
        Flag("--node-rank", f"{key}.node_rank", type=int, panel=PERFORMANCE,
             help="This machine's index; 0 publishes."),
        Flag("--master-addr", f"{key}.master_addr", panel=PERFORMANCE, help="Address of machine 0 (rendezvous)."),
        Flag("--master-port", f"{key}.master_port", type=int, panel=PERFORMANCE, help="Rendezvous port on machine 0."),
    )  # fmt: skip


# The options every command that runs a stage shares, declared once.
SHARED = (
    OUTPUT_FLAG,
    Flag("--overwrite", type=bool, default=False, panel=OUTPUT,
         help="Replace a non-empty OUT that an earlier ovtool run published."),
    Flag("--wait", type=bool, default=False, panel=OUTPUT,
         help="If another ovtool run is writing OUT, wait for it instead of exiting 2."),
    Flag("--json", type=bool, default=False, panel=OUTPUT, param="json_out",
         help="Print the run record (run.json) to stdout."),
    Flag("--junit", "gates.junit", type=Path, panel=OUTPUT, convert=str, metavar="FILE",
         help="Also write JUnit XML (a test case per stage and gate) to FILE, also when gates or the work fail."),
    Flag("--set", repeatable=True, panel=COMMON, param="sets", metavar="KEY=VALUE",
         help="Override a recipe key: --set convert.weight_format=fp16 (repeatable)."),
    Flag("--dry-run", type=bool, default=False, panel=COMMON,
         help="Validate everything, print the resolved recipe; do nothing."),
    Flag("--no-cache", "cache.enabled", type=bool, value=False, panel=COMMON,
         help="Neither reuse nor store stage outputs in the stage cache ($OVTOOL_CACHE): every stage runs."),
    Flag(("-v", "--verbose"), type=int, count=True, default=0, panel=COMMON, metavar="", help="More detail on stderr."),
    Flag(("-q", "--quiet"), type=bool, default=False, panel=COMMON, help="Only errors on stderr."),
)  # fmt: skip

# A stage command: [RECIPE] -r -m + the shared options (benchmark and dataset swap -m/RECIPE).
STAGE = (RECIPE, RECIPE_OPTION, MODEL_FLAG, *SHARED)
