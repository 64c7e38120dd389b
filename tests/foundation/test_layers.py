"""The layer rules (DESIGN.md) hold: `lint-imports` keeps every contract in .importlinter.

Run here as well as in `make lint` so `make test` fails when an import crosses a layer. Whether `ovtool --help`
imports a heavy library at module top is checked by test_cli.py::test_help_imports_no_heavy_library (import-linter
sees every import, including those inside functions, so it cannot tell "at module top").
"""

from __future__ import annotations

import configparser
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ovtool

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        pytest.fail(f"{lint_imports} is missing: install the dev extra (pip install -e '.[dev]')")
    # cwd = the repository: lint-imports puts it first on sys.path, so this checkout's ovtool is analysed
    proc = subprocess.run([str(lint_imports), "--no-cache", "--config", str(CONFIG)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, f"import contracts broken:\n{proc.stdout}\n{proc.stderr}"


def test_every_top_level_module_has_a_layer() -> None:
    """A new module of ovtool must say where it sits: unlisted modules would escape the layers contract."""
    config = configparser.ConfigParser()
    config.read(CONFIG)
    layers = config["importlinter:contract:layers"]["layers"]
    listed = {name.strip() for line in layers.splitlines() for name in line.replace("|", ":").split(":")}
    modules = {f"ovtool.{m.name}" for m in pkgutil.iter_modules(ovtool.__path__)}
    assert Path(ovtool.__file__).resolve().parent == ROOT / "ovtool", "tests must import this checkout's ovtool"
    assert not modules - listed, f"add these to a layer in .importlinter: {sorted(modules - listed)}"
    assert not listed - {""} - modules, f"listed in .importlinter but gone: {sorted(listed - {''} - modules)}"
