"""The flag layer in-process (Typer's CliRunner), in seconds: every flag of every command lands on
its recipe key, the tables agree with the schema, help has panels and examples, usage errors are
one line. The subprocess tests (test_cli.py) keep checking the real entry point end to end.
"""

from __future__ import annotations

import shlex
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from click.testing import CliRunner
from pydantic import BaseModel
from typer.testing import CliRunner as TyperRunner

from ovtool.cli import main as cli_main
from ovtool.cli.build import Example
from ovtool.cli.flags import PANELS, Flag
from ovtool.recipe.schema import Recipe
from tests.conftest import ROOT

ROOT_GROUP = cli_main.cli()


def commands(group: click.Command = ROOT_GROUP, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(argv prefix, click command) for every leaf command, dataset and recipe verbs included."""
    for name, sub in getattr(group, "commands", {}).items():
        if isinstance(sub, click.Group):
            yield from commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def flags_of(command: Any) -> tuple[Flag, ...]:
    return command.callback.flags


def examples_of(command: Any) -> tuple[Example, ...]:
    return command.callback.examples


ALL = list(commands())


# --- option → recipe key --------------------------------------------------------------------------


def sample(flag: Flag) -> tuple[list[str], Any]:
    """(argv for this flag, the value its recipe key must get)."""
    if flag.argument:
        raw = ["data/a", "data/b"] if flag.repeatable else ["data/a"]
        return raw, list(raw) if flag.repeatable else raw[0]
    name = max(flag.decls, key=len).split("/")[0]
    if flag.switch:
        return [name], flag.value
    text = flag.choices[-1] if flag.choices else {int: "3", float: "0.5"}.get(flag.type, "some/value")
    if flag.name == "shape":
        text = "input_ids=[1,8]"
    elif flag.convert is not None and flag.name not in ("prompt", "output"):
        text = "a=0.5"
    parsed = {int: 3, float: 0.5}.get(flag.type, text) if not flag.choices else text
    expected = flag.recipe_value([parsed] if flag.repeatable else parsed)
    return [name, text], expected


CASES = [
    pytest.param(path, flag, id=f"{' '.join(path)} {flag.decls[-1]}")
    for path, command in ALL
    for flag in flags_of(command)
    if isinstance(flag.key, str)
]


class Stop(Exception):
    """Raised where the runner would start: the recipe flags have been captured by then."""


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace load_recipe and execute: record the flags each load was given, stop before any work."""
    calls: list[dict[str, Any]] = []

    class Anything:
        def __getattr__(self, name: str) -> Any:
            return (lambda: ["convert"]) if name == "stages" else object()

    def fake_load(path: Path | None, sets: Any = (), flags: dict[str, Any] | None = None) -> Any:
        calls.append(dict(flags or {}))
        return types.SimpleNamespace(recipe=Anything())

    def fake_execute(*_: Any) -> Any:
        raise typer.Exit(99)

    monkeypatch.setattr("ovtool.recipe.loader.load_recipe", fake_load)
    monkeypatch.setattr("ovtool.runner.execute", fake_execute)
    monkeypatch.setattr("ovtool.sweep.runner.run_sweep", fake_execute)
    return calls


def invoke(*args: str) -> Any:
    return TyperRunner().invoke(cli_main.app, list(args))


@pytest.mark.parametrize(("path", "flag"), CASES)
def test_every_flag_lands_on_its_key(path: tuple[str, ...], flag: Flag, captured: list[dict[str, Any]]) -> None:
    argv, expected = sample(flag)
    needs = []
    if path[-1] == "merge":  # PATH OTHERS... are both required
        needs = {"path": [], "others": ["data/first"]}.get(flag.name, ["data/x", "data/y"])
        argv = [*argv, "data/z"] if flag.name == "path" else argv
    recipe = ["-r", "r.yaml"] if path[0] in ("run", "sweep") else []
    result = invoke(*path, *needs, *recipe, *argv)
    assert result.exit_code == 99, result.output
    assert captured[-1][flag.key] == expected
    others = {k: v for k, v in captured[-1].items() if k != flag.key and v is not None and not k.startswith("dataset.")}
    assert not others, others  # nothing else was set (dataset verbs add their verb and fixed keys)


def test_data_kind_goes_with_calibration_or_evaluation(captured: list[dict[str, Any]]) -> None:
    invoke("quantize", "--calibration", "c", "--data-kind", "image")
    assert captured[-1]["quantize.calibration.kind"] == "image" and captured[-1]["quantize.evaluation.kind"] is None
    invoke("quantize", "--calibration", "c", "--evaluation", "e", "--data-kind", "text")
    assert captured[-1]["quantize.calibration.kind"] == captured[-1]["quantize.evaluation.kind"] == "text"


def test_dataset_verbs_set_their_verb_and_take_r(captured: list[dict[str, Any]]) -> None:
    result = invoke("dataset", "sample", "-r", "x.yaml", "-n", "4")
    assert result.exit_code == 99, result.output
    assert captured[-1]["dataset.verb"] == "sample" and captured[-1]["dataset.kind"] == "text"
    assert captured[-1]["dataset.samples"] == 4 and captured[-1]["dataset.path"] is None  # PATH may come from -r


def test_left_out_flags_change_nothing(captured: list[dict[str, Any]]) -> None:
    assert invoke("generate", "-r", "x.yaml").exit_code == 99
    assert all(value is None for value in captured[-1].values())


# --- the tables agree with the schema -------------------------------------------------------------


def schema_field(dotted: str) -> Any:
    """The annotation of a dotted recipe key (sections and nested specs unwrapped)."""
    model: Any = Recipe
    annotation: Any = None
    for part in dotted.split("."):
        assert model is not None and part in model.model_fields, f"{dotted}: no {part!r} in the schema"
        annotation = model.model_fields[part].annotation
        model = next((a for a in (annotation, *typing.get_args(annotation))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)  # fmt: skip
    return annotation


def literal_values(annotation: Any) -> set[str]:
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    return {v for arg in typing.get_args(annotation) for v in literal_values(arg)}


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_key_and_choice_is_the_schemas(path: tuple[str, ...], command: Any) -> None:
    for flag in flags_of(command):
        keys = [flag.key] if isinstance(flag.key, str) else list(flag.key or {})
        for key in keys:
            annotation = schema_field(key)
            if flag.choices:
                assert set(flag.choices) == literal_values(annotation), (key, flag.choices)
        assert flag.panel in PANELS


# --- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_help_has_panels_examples_and_described_arguments(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(ROOT_GROUP, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Examples" in text
    assert 2 <= len(examples_of(command)) <= 4
    for example in examples_of(command):
        assert f"ovtool {example.argv}" in text
    for flag in flags_of(command):
        if not flag.argument:
            assert f"─ {flag.panel} " in text, flag.panel
        else:
            assert " ".join(flag.help.split()[:3]) in text, f"argument {flag.name} is not described"
    for flag in flags_of(command):
        for choice in flag.choices:
            assert choice in text


def test_root_help_from_the_index_is_the_full_apps() -> None:
    """`ovtool --help` renders placeholder commands (no command module imported): same output."""
    light = CliRunner().invoke(cli_main.cli(["--help"]), ["--help"], terminal_width=100)
    full = CliRunner().invoke(ROOT_GROUP, ["--help"], terminal_width=100)
    assert light.exit_code == full.exit_code == 0
    assert light.output == full.output
    assert "--install-completion" in full.output and "─ Commands " in full.output


def test_examples_parse() -> None:
    """Every example's words are options and arguments its command accepts."""
    for _, command in ALL:
        for example in examples_of(command):
            words = shlex.split(example.argv.partition(" > ")[0])  # a shell redirect is not an argument
            sub: Any = ROOT_GROUP
            while isinstance(sub, click.Group):
                sub = sub.commands[words.pop(0)]
            sub.make_context("ovtool", words)  # raises a UsageError on an unknown option or a bad choice


# --- usage errors: one line, exit 2 --------------------------------------------------------------


def run_main(*args: str) -> tuple[int, str, str]:
    """The real entry point (main), in this process."""
    with CliRunner().isolation() as (out, err, _):
        try:
            cli_main.main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["convert", "--wieght-format", "fp16"], "--weight-format"),
        (["convert", "--weight-format", "int13"], "'int13' is not one of 'fp32', 'fp16', 'int8'"),
        (["benchmark", "--hint", "fastest"], "--hint"),
        (["konvert"], "Did you mean 'convert'?"),
        (["dataset", "splt"], "'split'"),
        (["dataset", "merge", "a"], "Missing argument"),
        (["convert", "a.yaml", "-r", "b.yaml"], "not both"),
        (["quantize", "--samples", "many"], "'many' is not a valid integer"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], needle: str) -> None:
    code, out, err = run_main(*args)
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert lines[0].count("id you mean") <= 1
    assert out == ""


def test_version_and_root_help_through_main() -> None:
    assert run_main("--version")[:2] == (0, "ovtool 0.1.0\n")
    code, out, _ = run_main("--help")
    assert code == 0 and "convert" in out and "Commands" in out


def test_every_example_uses_shipped_files() -> None:
    """Examples name shipped recipes/assets (or outputs of an earlier example), never made-up paths."""
    for _, command in ALL:
        for example in examples_of(command):
            for word in shlex.split(example.argv):
                if word.startswith(("recipes/", ".assets/", "tests/")) and "*" not in word:
                    assert (ROOT / word).exists(), (example.argv, word)


def runnable_now(words: list[str]) -> bool:
    """An example that needs no earlier example's output and writes nothing outside OUT."""
    previous = ["", *words[:-1]]
    if any(w.startswith("runs/") and p not in ("-o", "--output") for p, w in zip(previous, words, strict=True)):
        return False
    if words[0] == "recipe":
        return "-o" not in words
    if words[0] == "cache":  # it runs for real (on the session's cache): only what removes nothing
        return words[1] in ("ls", "du") or "--dry-run" in words
    return words[0] != "clean" or "--dry-run" in words


def test_examples_dry_run_from_the_repo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example that stands alone validates (recipe, inputs, options) with --dry-run."""
    monkeypatch.chdir(ROOT)
    ran = 0
    for path, command in ALL:
        for n, example in enumerate(examples_of(command)):
            words = shlex.split(example.argv.partition(" > ")[0])
            if not runnable_now(words) or "*" in example.argv:
                continue
            extra = []
            if path[0] not in ("recipe", "clean", "cache", "env", "tune"):  # these write no OUT
                out = str(tmp_path / f"{'-'.join(path)}{n}")
                extra = ["--dry-run"] if "--chat" in words else ["--dry-run", "-o", out]
            code, _, err = run_main(*words, *extra)
            assert code == 0, (example.argv, err)
            ran += 1
    assert ran >= 25


def test_shell_completion_offers_commands_and_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    # --show-completion names the shell it finds above it; under `make` that is sh, which typer does not
    # support, so the user's interactive bash is stood in for (shellingham is not the thing under test).
    import shellingham

    monkeypatch.setattr(shellingham, "detect_shell", lambda *args, **kwargs: ("bash", "/bin/bash"))

    def complete(words: str, cword: int) -> list[str]:
        env = {"_OVTOOL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        result = CliRunner().invoke(ROOT_GROUP, [], prog_name="ovtool", env=env)
        return result.output.split()

    assert complete("ovtool conv", 1) == ["convert"]
    assert complete("ovtool convert --weight-format ", 3) == ["fp32", "fp16", "int8", "int4", "mxfp4", "nf4", "cb4"]
    assert "split" in complete("ovtool dataset sp", 2)
    shown = CliRunner().invoke(ROOT_GROUP, ["--show-completion"], prog_name="ovtool")
    assert shown.exit_code == 0 and "_OVTOOL_COMPLETE=complete_bash" in shown.output
