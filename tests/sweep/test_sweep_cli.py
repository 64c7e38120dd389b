"""`ovtool sweep` through the CLI: dry run, shipped recipes, and a real NUDENET sweep with Ctrl-C, SIGKILL,
resume and a failed trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from tests.conftest import ASSETS, NUDENET_ONNX, ROOT, run_cli

IMAGES = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" \
    / "sklearn" / "datasets" / "images"  # fmt: skip
PREPROCESS = {"resize": [320, 320], "letterbox": True, "scale": 255, "layout": "NCHW", "channel_order": "RGB"}


def _recipe(tmp_path: Path, axes: dict, out: Path) -> Path:
    recipe = {
        "model": str(NUDENET_ONNX),
        "output": str(out),
        "quantize": {
            "calibration": {"kind": "image", "path": str(ASSETS / "voc_sample/data_dataset_voc/JPEGImages"),
                            "format": "image_folder", "preprocess": PREPROCESS},
            "evaluation": {"kind": "image", "path": str(IMAGES), "format": "image_folder",
                           "preprocess": {"resize": [320, 320], "letterbox": True}},
            "subset_size": 3,
            "quality": {"speed_seconds": 0.5},
        },
        "gates": {"min_similarity": 0.9},
        "sweep": {"axes": axes, "objectives": [{"metric": "output_similarity", "goal": "max"},
                                               {"metric": "quantize.speedup", "goal": "max"}]},
    }  # fmt: skip
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_dry_run_lists_every_trial_and_why_some_are_invalid(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, {"quantize.subset_size": [0, 2], "quantize.preset": ["mixed", "fast"]},
                     tmp_path / "out")  # fmt: skip
    done = run_cli("sweep", recipe, "--dry-run")
    assert done.returncode == 2, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4
    valid = [line for line in lines if line.endswith("\tvalid")]
    assert len(valid) == 1 and "quantize.subset_size=2" in valid[0] and "quantize.preset=mixed" in valid[0]
    assert all("invalid: quantize." in line for line in lines if line not in valid)
    assert "3 of 4 trials are invalid" in done.stderr
    assert not (tmp_path / "out").exists()


def test_out_that_is_not_a_sweep_is_refused_at_dry_run(tmp_path: Path) -> None:
    """A non-empty folder without sweep.json, or a sweep OUT whose model/ is a real folder, exits 2 before any
    trial (at --dry-run too), never suggests --overwrite (sweep has none), and nothing in it is touched."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    recipe = _recipe(tmp_path, {"quantize.subset_size": [2]}, theirs)
    for extra in (["--dry-run"], []):
        done = run_cli("sweep", recipe, *extra)
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert errors == [f"error: output folder {theirs} is not empty and holds no sweep.json: a sweep writes into "
                          "a new or empty folder, or resumes its own earlier OUT; choose another -o"]  # fmt: skip
        assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    earlier = tmp_path / "earlier"
    (earlier / "model").mkdir(parents=True)
    (earlier / "model" / "keep.bin").write_text("x")
    (earlier / "sweep.json").write_text("{}")
    done = run_cli("sweep", _recipe(tmp_path, {"quantize.subset_size": [2]}, earlier), "--dry-run")
    assert done.returncode == 2 and f"error: {earlier / 'model'} is a folder a sweep did not write" in done.stderr
    assert (earlier / "model" / "keep.bin").read_text() == "x"


SWEEP_RECIPES = [p for p in sorted((ROOT / "recipes").glob("*.yaml"))
                 if "sweep" in (yaml.safe_load(p.read_text()) or {})]  # fmt: skip


def test_the_sweep_recipes_ship() -> None:
    assert {p.name for p in SWEEP_RECIPES} >= {"smollm2-int4-sweep.yaml", "minilm-bbc-int8-sweep.yaml"}


@pytest.mark.parametrize("recipe", SWEEP_RECIPES, ids=lambda p: p.name)
def test_every_shipped_sweep_recipe_validates(recipe: Path, tmp_path: Path) -> None:
    done = run_cli("sweep", recipe, "--dry-run", "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) >= 8
    assert "invalid" not in done.stdout


def _start(recipe: Path) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("ovtool")
    return subprocess.Popen([str(exe), "sweep", str(recipe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip


def _wait_for(predicate, proc: subprocess.Popen[str], timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_sweep_end_to_end_with_interrupt_kill_resume_and_a_failed_trial(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # three trials; the last fails at run time (NNCF: no such node), after passing validation
    recipe = _recipe(tmp_path, {"quantize.ignored_scope.names": [[], ["/model.22/dfl/conv/Conv"], ["no_such_node"]]},
                     out)  # fmt: skip
    ids = [line.split("\t")[0] for line in run_cli("sweep", recipe, "--dry-run").stdout.strip().splitlines()]
    first, second, broken = (out / "trials" / i for i in ids)

    # Ctrl-C once the first trial has published: exit 130, the finished trial kept
    proc = _start(recipe)
    _wait_for(lambda: (first / "run.json").exists(), proc)
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    table = json.loads((out / "sweep.json").read_text())
    assert table["complete"] is False and table["trials"][0]["status"] == "ok"

    # SIGKILL the sweep and its trial mid-way through the second trial: nothing of it published
    proc = _start(recipe)
    _wait_for(lambda: any(p.name.startswith(".ovtool-staging-" + second.name) for p in (out / "trials").iterdir()),
              proc)  # fmt: skip
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not second.exists()
    first_mtime = (first / "run.json").stat().st_mtime_ns

    # re-run: only the unfinished trials run; the broken one is recorded with its error, the sweep goes on
    junit = tmp_path / "junit.xml"
    done = run_cli("sweep", recipe, "--junit", junit)
    assert done.returncode == 0, done.stderr
    cases = {c.get("name"): c for c in ElementTree.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == sorted(f"trial {i}" for i in ids)
    for ok in (first, second):
        assert cases[f"trial {ok.name}"].find("failure") is None and cases[f"trial {ok.name}"].find("error") is None
    assert "no_such_node" in cases[f"trial {broken.name}"].find("error").get("message")
    assert "1 of 3 trials finished earlier, not redone" in done.stderr
    assert (first / "run.json").stat().st_mtime_ns == first_mtime
    table = json.loads((out / "sweep.json").read_text())
    rows = {r["id"]: r for r in table["trials"]}
    assert table["complete"] is True
    assert rows[first.name]["reused"] is True and rows[second.name]["status"] == "ok"
    assert rows[broken.name]["status"] == "failed" and "no_such_node" in rows[broken.name]["error"]
    assert all(isinstance(rows[t.name]["objectives"]["output_similarity"], float) for t in (first, second))

    # the winner: in best.yaml, linked as OUT/model (relative), named in the report with the front and plots
    best = table["best"]
    assert best in (first.name, second.name) and best in table["front"]
    assert os.readlink(out / "model") == f"trials/{best}/model"
    assert (out / "model" / "openvino_model.xml").exists()
    assert yaml.safe_load((out / "best.yaml").read_text())["output"] == str(out / "trials" / best)
    report = (out / "report.md").read_text()
    assert best + " ★" in report and "Pareto front" in report
    assert report.count("data:image/png;base64,") == 0
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 2  # vs speedup, vs size
    assert f"best: {best}" in done.stdout

    # once more: every finished trial reused (the failed one is retried: its cause may have been fixed)
    again = run_cli("sweep", recipe)
    assert again.returncode == 0, again.stderr
    assert "2 of 3 trials finished earlier, not redone" in again.stderr
    assert (first / "run.json").stat().st_mtime_ns == first_mtime


@pytest.mark.slow
def test_no_trial_meets_the_gates_exits_3_with_the_front_ignoring_gates_and_the_trials_own_ir_size(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    recipe = _recipe(tmp_path, {"quantize.preset": ["mixed", "performance"]}, out)
    data = yaml.safe_load(recipe.read_text())
    data["gates"] = {"min_similarity": 0.99999}
    data["convert"] = {}  # convert reports the source IR's ir_size_mb: the trials' sizes must not be that one
    data["sweep"]["objectives"].append({"metric": "ir_size_mb", "goal": "min"})
    recipe.write_text(yaml.safe_dump(data))
    junit = tmp_path / "junit.xml"
    done = run_cli("run", recipe, "--junit", junit)  # `ovtool run` of a recipe with a sweep: section runs the sweep
    assert done.returncode == 3, done.stderr
    suite = ElementTree.parse(junit).getroot().find("testsuite")  # one failing case per trial, with its miss
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "2"
    messages = [case.find("failure").get("message") for case in suite.findall("testcase")]
    assert all(m.startswith("similarity 0.") and m.endswith(" < 0.99999 (gate min_similarity)") for m in messages)
    assert "no trial meets the gates; closest: preset-" in done.stderr
    assert "min_similarity" in done.stderr and "vs 0.99999" in done.stderr
    assert not (out / "best.yaml").exists() and not (out / "model").exists()

    table = json.loads((out / "sweep.json").read_text())
    ids = [r["id"] for r in table["trials"]]
    assert table["front"] == [] and table["best"] is None
    assert table["front_ignoring_gates"] and set(table["front_ignoring_gates"]) <= set(ids)
    assert sorted(table["closest"]) == sorted(ids)  # both missed; closest first
    report = (out / "report.md").read_text()
    assert "## Pareto front, gates ignored" in report
    for tid in table["front_ignoring_gates"]:
        assert f"- ◇ {tid}: output_similarity" in report and f"| {tid} ◇ |" in report

    # the size column and the ir_size_mb objective are each trial's compressed IR, not convert's source IR
    assert "trial IR MiB" in report and "size MB" not in report
    for row in table["trials"]:
        stages = {s["stage"]: s["metrics"] for s in json.loads((out / "trials" / row["id"] / "run.json").read_text())
                  ["stages"]}  # fmt: skip
        compressed, source = stages["quantize"]["size_compressed_mb"]["value"], stages["convert"]["ir_size_mb"]["value"]
        assert compressed < source
        assert row["size_mb"] == pytest.approx(compressed, abs=0.01)
        assert row["objectives"]["ir_size_mb"] == row["size_mb"]
    page = (out / "report.html").read_text()
    assert "Pareto front, gates ignored" in page
    assert page.count("data:image/png;base64,") == 2  # vs speedup, vs ir_size_mb (no separate size plot)

def _table(out: Path) -> list[tuple[str, str, int | None, str | None]]:
    rows = json.loads((out / "sweep.json").read_text())["trials"]
    return [(r["id"], r["status"], r["exit_code"], r["error"]) for r in rows]


@pytest.mark.slow
def test_jobs_2_runs_trials_at_once_and_gives_the_table_of_jobs_1(tmp_path: Path) -> None:
    # each sweep gets its own empty stage cache, so both really quantize (no trial borrows the other's model)
    axes = {"quantize.ignored_scope.names": [[], ["/model.22/dfl/conv/Conv"], ["no_such_node"]]}
    outs = {jobs: tmp_path / f"jobs{jobs}" for jobs in (2, 1)}
    for jobs, out in outs.items():
        (tmp_path / f"recipe{jobs}").mkdir()
        recipe = _recipe(tmp_path / f"recipe{jobs}", axes, out)
        done = run_cli("sweep", recipe, "--jobs", jobs, env={"OVTOOL_CACHE": str(tmp_path / f"cache{jobs}")})
        assert done.returncode == 0, done.stderr
    two, one = (_table(outs[j]) for j in (2, 1))
    assert two == one
    assert [status for _, status, _, _ in two] == ["ok", "ok", "failed"] and "no_such_node" in str(two[2][3])

    # the two trials that quantize ran at the same time under --jobs 2 (their run.json intervals overlap)
    runs = [json.loads((outs[2] / "trials" / tid / "run.json").read_text()) for tid, *_ in two[:2]]
    assert runs[0]["started_at"] < runs[1]["finished_at"] and runs[1]["started_at"] < runs[0]["finished_at"]
    for tid, *_ in two[:2]:  # the same models, the same quality figures
        models = [(outs[j] / "trials" / tid / "model" / "openvino_model.bin").read_bytes() for j in (2, 1)]
        assert models[0] == models[1]
        rows = [{r["id"]: r for r in json.loads((outs[j] / "sweep.json").read_text())["trials"]}[tid] for j in (2, 1)]
        assert rows[0]["objectives"]["output_similarity"] == pytest.approx(rows[1]["objectives"]["output_similarity"],
                                                                           abs=1e-4)  # fmt: skip
    same = [json.loads((outs[j] / "sweep.json").read_text()) for j in (2, 1)]
    assert same[0]["best"] == same[1]["best"] is not None


@pytest.mark.slow
def test_sigterm_with_jobs_2_stops_both_running_trials_at_once(tmp_path: Path) -> None:
    # SIGTERM reaches only the sweep (as from `timeout` or a CI runner), not its trials: the sweep must stop
    # them itself instead of waiting for trials that measure speed for 60 s each
    out = tmp_path / "out"
    recipe = _recipe(tmp_path, {"quantize.preset": ["mixed", "performance"]}, out)
    exe = Path(sys.executable).with_name("ovtool")
    argv = [str(exe), "sweep", str(recipe), "--jobs", "2", "--set", "quantize.quality.speed_seconds=60"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trials = out / "trials"

    def both_staging() -> bool:
        return trials.is_dir() and sum(p.name.startswith(".ovtool-staging-") for p in trials.iterdir()) == 2

    _wait_for(both_staging, proc)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert time.monotonic() - start < 45  # the trials' speed runs alone last 2 × 60 s
    assert not [p.name for p in trials.iterdir() if p.name.startswith(".ovtool-staging-")]  # cleaned by the trials
    table = json.loads((out / "sweep.json").read_text())
    assert table["complete"] is False and {r["status"] for r in table["trials"]} == {"pending"}
