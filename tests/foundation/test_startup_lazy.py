"""A one-prompt command builds and imports only what it uses (issue #14: start-up overhead), with the
same recipes, dumps and errors as validating the whole Recipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ovtool.recipe import safe_yaml
from ovtool.recipe.loader import LoadedRecipe, validate
from ovtool.recipe.schema import Recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_section_wise_validation_equals_the_whole_recipe(path: Path) -> None:
    raw = safe_yaml.load(path.read_text())
    whole = Recipe.model_validate(raw)
    fast = validate(raw)
    assert fast == whole
    assert fast.model_fields_set == whole.model_fields_set
    loaded = LoadedRecipe(fast, raw, str(path))
    assert loaded.dump() == whole.model_dump(mode="json", exclude_none=True)
    keys = {"model", "gates", *whole.stages()}
    assert loaded.dump(include=keys) == whole.model_dump(mode="json", include=keys, exclude_none=True)


BAD: list[dict[str, Any]] = [
    {"model": "m", "generate": {"max_new_tokens": 0}, "quantize": {"weights": {"mode": "int5"}}},
    {"seed": "x", "generate": {"prompt": "hi", "max_new_tokens": -1}},
    {"generate": {"prompt": "hi"}, "benchmarks": {}},
    {"generate": {"prompt": "hi", "max_new_token": 3}, "convert": {"weight_fromat": "int8"}},
]


@pytest.mark.parametrize("raw", BAD)
def test_errors_are_the_whole_recipes_own(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as whole:
        Recipe.model_validate(raw)
    with pytest.raises(ValidationError) as fast:
        validate(raw)
    assert fast.value.errors() == whole.value.errors()


def test_generate_imports_and_builds_only_its_own_parts(tmp_path: Path) -> None:
    """`ovtool generate --dry-run` in a fresh interpreter: no other command or stage module is
    imported, and neither the whole Recipe's nor another section's schema is built."""
    ir = tmp_path / "ir"
    ir.mkdir()
    for name in ("openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml"):
        (ir / name).write_text("<net/>")
    (ir / "openvino_model.bin").write_bytes(b"")
    code = f"""
import json, sys
from ovtool.cli.main import main
try:
    main(["generate", "-m", {str(ir)!r}, "-p", "hi", "--dry-run"])
except SystemExit as exc:
    code = exc.code
from ovtool.recipe import schema
print(json.dumps({{"code": code, "modules": sorted(sys.modules),
                  "built": {{c.__name__: c.__pydantic_complete__ for c in
                            (schema.Recipe, schema.QuantizeSection, schema.ConvertSection, schema.GenerateSection)}}}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0, proc.stderr
    modules = set(seen["modules"])
    assert {"ovtool.cli.generate", "ovtool.stages.generate"} <= modules
    others = ("convert", "quantize", "prune", "distill", "benchmark", "dataset", "sweep", "tune", "run")
    assert not modules & {f"ovtool.cli.{n}" for n in others}
    assert not modules & {f"ovtool.stages.{n}" for n in others}
    assert seen["built"] == {"Recipe": False, "QuantizeSection": False, "ConvertSection": False,
                             "GenerateSection": True}  # fmt: skip
