"""README promises: the recipe reference matches the schema; the test command is what CI runs."""

from __future__ import annotations

from pathlib import Path

from ovtool.recipe.reference import END, START, embedded_block

ROOT = Path(__file__).resolve().parents[2]


def test_recipe_reference_in_readme_matches_schema() -> None:
    text = (ROOT / "README.md").read_text()
    start, end = text.index(START), text.index(END) + len(END)
    assert text[start:end] == embedded_block(), "run: .venv/bin/python scripts/sync_readme.py"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make install" in readme
    assert "make test" in ci and "make install" in ci


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("convert", "quantize", "prune", "distill", "benchmark", "generate", "dataset", "run", "recipe"):
        assert f"`ovtool {command}" in readme
