"""The checks a conversion makes first, for each stage that converts its input (quantize, benchmark, generate).

Its own module, not part of stages/convert.py: `generate` runs these checks in its preflight and must not
import the convert stage (and what it imports) to answer one prompt.
"""

from __future__ import annotations

from pathlib import Path

from ovtool.errors import UserError
from ovtool.extras import require_for_source
from ovtool.model_files import detect_format
from ovtool.recipe.sections.convert import ConvertSection


def check_source(source: str, convert: ConvertSection | None = None) -> str:
    """The format of a source that `ensure_ir` will convert, with the checks the conversion makes first.

    For the preflight of stages that convert their input (quantize, benchmark, generate): a corrupt GGUF
    or a missing extra fails at --dry-run, as it does for `ovtool convert`.
    """
    fmt = detect_format(source, convert.source_format if convert is not None else "auto")
    require_for_source(fmt)
    if fmt == "gguf":
        gguf_file(source)
    return fmt


def gguf_file(source: str) -> Path:
    """The GGUF file `source` names (or the only one in a folder), with readable metadata."""
    from ovtool.backends.optimum.gguf import read_gguf_metadata

    path = Path(source)
    if path.is_dir():
        path = next(p for p in sorted(path.iterdir()) if p.suffix == ".gguf")
    try:
        read_gguf_metadata(path)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    return path
