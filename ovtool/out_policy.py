"""What may be used as OUT, and what `--overwrite` may replace.

`--overwrite` swaps a whole folder away, so it must only ever hit a folder ovtool published itself:
never one that holds (or lies inside) an input of the run, never `/`, `$HOME` or the current
directory (or anything above them), never a symlink's target. All of this is decided before any
work, so `--dry-run` catches it too.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ovtool import __version__
from ovtool.errors import UserError

MARKER = ".ovtool"
# leaf keys of a recipe whose string values name files or folders the run reads
PATH_KEYS = frozenset({
    "model", "input", "path", "models", "merge_with", "key_file", "prompt_file", "prompts", "prompt_text",
    "draft", "embedding_model", "pytorch_baseline", "baseline_run", "checkpoint_dir",
})  # fmt: skip

Inputs = list[tuple[str, Path]]


def out_path(out: Path) -> Path:
    """OUT as an absolute path with its parent's symlinks resolved but its own name kept.

    Resolving OUT itself would follow a symlinked OUT to its target, which is what must be refused.
    """
    absolute = Path(os.path.abspath(out))
    if absolute.parent == absolute:
        return absolute
    return absolute.parent.resolve() / absolute.name


def write_marker(folder: Path) -> None:
    """Mark a folder about to be published as ovtool's own, so a later --overwrite may replace it."""
    (folder / MARKER).write_text(json.dumps({"ovtool": __version__, "published_by": "ovtool"}) + "\n")


def _json_dict(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def published_by_ovtool(folder: Path) -> bool:
    """The folder holds ovtool's marker, or (older runs) a run.json that ovtool wrote."""
    marker = _json_dict(folder / MARKER)
    if marker is not None and "ovtool" in marker:
        return True
    record = _json_dict(folder / "run.json")
    return record is not None and "ovtool_version" in record and "stages" in record


def input_paths(data: Mapping[str, Any], recipe_file: str | None) -> Inputs:
    """Every existing local path the run reads: PATH_KEYS values anywhere in `data`, and the recipe file.

    `data` is the dumped recipe (only the parts the run uses). Hub ids, `{model}` placeholders and
    `@dataset/...` references (this run's own output) are not local inputs and are skipped.
    """
    found: Inputs = []

    def walk(node: Any, dotted: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                child = f"{dotted}.{key}" if dotted else str(key)
                if key in PATH_KEYS and isinstance(value, str):
                    add(child, value)
                elif key in PATH_KEYS and isinstance(value, list) and all(isinstance(v, str) for v in value):
                    for i, item in enumerate(value):
                        add(f"{child}[{i}]", item)
                else:
                    walk(value, child)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{dotted}[{i}]")

    def add(key: str, value: str) -> None:
        if not value or value.startswith("@") or "{" in value:
            return
        path = Path(value).expanduser()
        if path.exists() or path.is_symlink():
            found.append((key, path))

    walk(data, "")
    if recipe_file:
        found.append(("the recipe file", Path(recipe_file)))
    return found


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _reserved(out: Path) -> str | None:
    """Why OUT can never be used (root, $HOME, the current directory or above them), else None."""
    if out.parent == out:
        return "is the filesystem root"
    home = Path.home().resolve()
    if _within(home, out):
        return "is your home folder" if out == home else f"holds your home folder {home}"
    cwd = Path.cwd().resolve()
    if _within(cwd, out):
        return "is the current directory" if out == cwd else f"holds the current directory {cwd}"
    return None


def _input_clash(out: Path, inputs: Iterable[tuple[str, Path]]) -> str | None:
    """Why OUT clashes with an input (holds it, or is inside it), else None."""
    for key, path in inputs:
        absolute = Path(os.path.abspath(path.expanduser()))
        for candidate in dict.fromkeys((absolute, absolute.resolve())):
            if _within(candidate, out):
                return f"holds {candidate}, an input of this run ({key})"
            if _within(out, candidate):
                return f"is inside {candidate}, an input of this run ({key})"
    return None


def check_out(out: Path, overwrite: bool, inputs: Iterable[tuple[str, Path]] = ()) -> None:
    """Raise UserError (exit 2) unless `out` (from out_path) may receive this run's results."""
    if out.is_symlink():
        raise UserError(f"output {out} is a symbolic link: give the real folder with -o (ovtool never replaces a link)")
    why = _reserved(out) or _input_clash(out, inputs)
    if why:
        raise UserError(f"output {out} {why}: choose another -o")
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} is a file; give a folder with -o")
    if not (out.is_dir() and any(out.iterdir())):
        return
    if not overwrite:
        raise UserError(f"output folder {out} is not empty: pass --overwrite or choose another -o")
    if not published_by_ovtool(out):
        raise UserError(
            f"output folder {out} was not written by ovtool (no {MARKER} or ovtool run.json), so --overwrite "
            "will not replace it: empty it yourself or choose another -o"
        )


def check_creatable(out: Path, probe_prefix: str) -> None:
    """Raise UserError unless OUT's parent exists as a writable folder or can be created.

    Probes the nearest existing ancestor with a scratch folder that is removed at once, so a dry
    run leaves nothing behind.
    """
    from ovtool.scratch import owned_dir

    ancestor = out.parent
    try:
        while not ancestor.exists() and ancestor.parent != ancestor:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise UserError(f"cannot create the output folder {out}: {ancestor} is a file, not a folder")
        probe = owned_dir(probe_prefix, parent=ancestor)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UserError(f"cannot create the output folder {out}: cannot write in {ancestor} ({reason})") from exc
    shutil.rmtree(probe, ignore_errors=True)
