"""Regenerate the recipe reference embedded in README.md from the schema (a test checks it is in sync)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def synced(text: str) -> str:
    sys.path.insert(0, str(ROOT))
    from ovtool.recipe.reference import END, START, embedded_block

    if "RECIPE_REFERENCE" in text:
        return text.replace("RECIPE_REFERENCE", embedded_block())
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: embedded_block(), text)


def main() -> int:
    readme = ROOT / "README.md"
    readme.write_text(synced(readme.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
