"""Hostile recipes (alias bombs, deep nesting, FIFOs, devices, huge files, duplicate keys) are refused fast, exit 2."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ovtool.errors import RecipeError
from ovtool.recipe import loader, safe_yaml
from ovtool.recipe.loader import load_recipe
from ovtool.recipe.overrides import apply_overrides, parse_set
from tests.conftest import run_cli

# The 347-byte "billion laughs" of the review: nine anchors, each nine aliases of the one before.
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def refusal(path: Path | None, sets: list[str] | None = None) -> tuple[str, float]:
    """The one problem load_recipe reports, and how long it took to say so."""
    start = time.monotonic()
    with pytest.raises(RecipeError) as info:
        load_recipe(path, sets or [])
    elapsed = time.monotonic() - start
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0], elapsed


def test_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    assert len(BOMB) < 400
    problem, elapsed = refusal(write(tmp_path, BOMB))
    assert "aliases expand to more than" in problem and "line " in problem
    assert elapsed < 1.0


def test_alias_bomb_through_the_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = run_cli("recipe", "validate", write(tmp_path, BOMB), timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "alias bomb" in proc.stderr and "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr


def test_alias_bomb_in_a_set_value_is_refused() -> None:
    value = "{" + BOMB.replace("\n", ", ").rstrip(", ") + "}"
    with pytest.raises(RecipeError, match="aliases expand"):
        parse_set(f"convert.task={value}")


def test_a_few_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    text = (
        "model: &m models/a.onnx\n"
        "output: out\n"
        "convert: &c {weight_format: fp16}\n"
        "generate:\n  input: *m\n"
        "benchmark: {models: [*m]}\n"
    )
    loaded = load_recipe(write(tmp_path, text))
    assert loaded.recipe.generate is not None and loaded.recipe.generate.input == "models/a.onnx"
    assert loaded.recipe.benchmark is not None and loaded.recipe.benchmark.models == ["models/a.onnx"]
    assert safe_yaml.load("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n")["use"] == {"x": 1, "y": 3}


def test_aliases_do_not_share_what_an_override_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "model: m\nconvert: &c {weight_format: fp16}\nextra_copy: *c\n")
    raw = loader.read_yaml(path)
    apply_overrides(raw, ["convert.weight_format=int8"], {})
    assert raw["extra_copy"] == {"weight_format": "fp16"}


def test_too_many_aliases_are_refused() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * (safe_yaml.MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(safe_yaml.YamlLimitError, match=r"more than \d+ aliases"):
        safe_yaml.load(text)


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    problem, _ = refusal(write(tmp_path, "convert: &a {inputs: [*a]}\n"))
    assert "recursive" in problem


@pytest.mark.parametrize(
    "text",
    [
        "model: " + "[" * 5000 + "]" * 5000 + "\n",
        "model: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
        "".join(" " * i + "a:\n" for i in range(1500)),
        "- " * 2000 + "x\n",
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    problem, elapsed = refusal(write(tmp_path, text))
    assert problem.startswith("nesting deeper than") and "line " in problem
    assert elapsed < 1.0


def test_deep_nesting_through_aliases_is_refused() -> None:
    level = "[" * 40 + "x" + "]" * 40
    with pytest.raises(safe_yaml.YamlLimitError, match="aliases expanded"):
        safe_yaml.load(f"a: &a {level}\nb: &b {'[' * 30}*a{']' * 30}\n")


def test_deep_nesting_through_the_cli_exits_2(tmp_path: Path) -> None:
    proc = run_cli("recipe", "validate", write(tmp_path, "[" * 20000 + "]" * 20000), timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "nesting deeper than" in proc.stderr and "RecursionError" not in proc.stderr


def test_too_many_key_parts_in_set_are_refused() -> None:
    with pytest.raises(RecipeError, match="more than"):
        parse_set(".".join(["a"] * 5000) + "=1")


def test_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "recipe.yaml"
    os.mkfifo(fifo)
    result: list[BaseException | None] = []

    def load() -> None:
        try:
            load_recipe(fifo)
            result.append(None)
        except BaseException as exc:  # handed to the main thread to assert on
            result.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # it blocks in open(): free it by opening the writing end, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_recipe blocked on a FIFO")
    (exc,) = result
    assert isinstance(exc, RecipeError) and "FIFO" in str(exc)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_character_devices_are_refused(device: str) -> None:
    problem, elapsed = refusal(Path(device))
    assert "character device" in problem and elapsed < 1.0


def test_devices_through_the_cli_exit_2(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    proc = run_cli("convert", "/dev/zero", "--dry-run", timeout=30)
    assert proc.returncode == 2 and "character device" in proc.stderr, proc.stderr
    proc = run_cli("recipe", "validate", fifo, timeout=30)
    assert proc.returncode == 2 and "FIFO" in proc.stderr, proc.stderr


def test_a_file_past_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * loader.MAX_RECIPE_BYTES + b"\nmodel: m\n")
    problem, elapsed = refusal(path)
    assert "larger than" in problem and elapsed < 1.0


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    head = b"model: m\n# "
    path.write_bytes(head + b"x" * (loader.MAX_RECIPE_BYTES - len(head) - 1) + b"\n")
    assert load_recipe(path).recipe.model == "m"


def test_unreadable_path_is_exit_2(tmp_path: Path) -> None:
    """An OSError other than "not found" (here: a file used as a folder) is invalid input, not a crash."""
    problem, _ = refusal(write(tmp_path, "model: m\n", name="file") / "recipe.yaml")
    assert problem.startswith("cannot read the recipe") and "Not a directory" in problem


def test_duplicate_top_level_key_names_both_lines(tmp_path: Path) -> None:
    text = "convert: {weight_format: fp16}\nmodel: m\noutput: o\nseed: 1\n\n\nconvert: {task: fill-mask}\n"
    problem, _ = refusal(write(tmp_path, text))
    assert problem == "duplicate key `convert` at line 7 (first at line 1)"


def test_duplicate_nested_key_is_refused(tmp_path: Path) -> None:
    text = "model: m\nconvert:\n  weight_format: fp16\n  task: fill-mask\n  weight_format: int8\n"
    problem, _ = refusal(write(tmp_path, text))
    assert problem == "duplicate key `weight_format` at line 5 (first at line 3)"


def test_keys_equal_as_values_are_duplicates() -> None:
    with pytest.raises(safe_yaml.YamlLimitError, match="duplicate key `1` at line 2"):
        safe_yaml.load("1: a\n0x1: b\n")


def test_duplicate_key_in_a_set_value_is_refused() -> None:
    with pytest.raises(RecipeError, match="duplicate key `a`"):
        parse_set("convert.inputs={a: 1, a: 2}")


def test_duplicate_key_through_the_cli_exits_2(tmp_path: Path) -> None:
    proc = run_cli("recipe", "validate", write(tmp_path, "model: a\nmodel: b\n"), timeout=30)
    assert proc.returncode == 2 and "duplicate key `model` at line 2 (first at line 1)" in proc.stderr


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2024-02-31", "not a valid timestamp"),
        ("!!int ''", "not a valid int"),
        ("!!bool maybe", "not a valid bool"),
        ("!!timestamp soon", "not a valid timestamp"),
        ("1" + ":1" * 3000, "more than 100 digits"),
        ("0x" + "f" * 5000, "more than 100 digits"),
        ("1" * 5000, "more than 100 digits"),
    ],
)
def test_values_python_cannot_build_are_yaml_errors(tmp_path: Path, value: str, fragment: str) -> None:
    problem, _ = refusal(write(tmp_path, f"seed: {value}\n"))
    assert problem.startswith("YAML error at line 1") and fragment in problem


def test_huge_sexagesimal_integer_cannot_crash_show(tmp_path: Path) -> None:
    """Before the bound, `seed: 1:1:…` validated and `recipe show` died printing it (exit 1)."""
    proc = run_cli("recipe", "show", write(tmp_path, "seed: 1" + ":1" * 3000 + "\n"), timeout=30)
    assert proc.returncode == 2, proc.stderr


def test_problem_for_a_huge_value_stays_short(tmp_path: Path) -> None:
    value = "[" + ", ".join(["[" + ", ".join(["x"] * 50) + "]"] * 50) + "]"
    problem, _ = refusal(write(tmp_path, f"convert: {{weight_format: {value}}}\n"))
    assert problem.startswith("convert.weight_format:") and len(problem) < 200


def test_many_problems_are_counted_not_all_listed(tmp_path: Path) -> None:
    text = "".join(f"key{i}: 1\n" for i in range(500))
    with pytest.raises(RecipeError) as info:
        load_recipe(write(tmp_path, text))
    problems = info.value.problems
    assert len(problems) == loader.MAX_PROBLEMS + 1 and problems[-1] == "… and 450 more problems"
