"""--junit FILE / gates.junit: JUnit XML a CI system can read, whatever the run's outcome."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from ovtool.junit import render
from tests.conftest import NUDENET_ONNX, run_cli

SHORT = ("--shape", "[1,3,320,320]", "--set", "benchmark.duration_s=0.5", "--no-cache")

# What the JUnit schema (and the CI tools reading it) require of each element.
REQUIRED = {
    "testsuites": {"tests", "failures", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "time"},
    "testcase": {"name", "classname", "time"},
    "failure": {"message", "type"},
    "error": {"message", "type"},
    "skipped": {"message"},
}


def parse_junit(path: Path) -> ET.Element:
    """Parse and check the shape: required attributes, counts that add up, one outcome per case at most."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    for element in root.iter():
        missing = REQUIRED.get(element.tag, set()) - set(element.attrib)
        assert not missing, f"<{element.tag}> lacks {missing}"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "")) == len(cases) == int(root.get("tests", ""))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        assert int(suite.get(attr, "")) == sum(1 for c in cases if c.find(tag) is not None)
    for case in cases:
        assert len([c for c in case if c.tag in ("failure", "error", "skipped")]) <= 1
    return suite


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in suite.findall("testcase")}


def test_gates_as_test_cases_written_on_exit_3(tmp_path: Path) -> None:
    """A failed gate is a <failure> naming the measured value and the threshold; passed and unmeasured gates too."""
    junit = tmp_path / "ci" / "junit.xml"
    out = tmp_path / "out"
    proc = run_cli("benchmark", "-m", NUDENET_ONNX, "-o", out, "--junit", junit, *SHORT,
                   "--set", "gates.min_throughput=1e9", "--set", "gates.max_latency_ms=1e6",
                   "--set", "gates.min_tokens_per_s=1")  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-2000:]
    suite = parse_junit(junit)
    run = json.loads((out / "run.json").read_text())
    throughput = run["stages"][0]["gate_values"]["throughput"]
    by_name = cases(suite)
    assert by_name["benchmark: ran"].find("failure") is None and float(by_name["benchmark: ran"].get("time", "")) > 0
    failed = by_name["min_throughput: throughput >= 1e+09"].find("failure")
    assert failed is not None
    assert f"{throughput:.6g}" in failed.get("message", "") and "1e+09" in failed.get("message", "")
    assert [c.tag for c in by_name["max_latency_ms: latency_ms <= 1e+06"]] == ["system-out"]  # passed
    assert by_name["min_tokens_per_s: tokens_per_s >= 1"].find("skipped") is not None  # not measured here
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "0", "1")
    # where to write is not part of the run: recipe.yaml (and so the recipe hash) leaves it out
    assert "junit" not in yaml.safe_load((out / "recipe.yaml").read_text()).get("gates", {})


def test_stopped_work_is_an_error_case(tmp_path: Path) -> None:
    """`ovtool run` converts, then stops in `benchmark` (dynamic shapes, found on the IR): JUnit still says so."""
    junit = tmp_path / "junit.xml"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model: {NUDENET_ONNX}\noutput: {tmp_path / 'out'}\nconvert: {{}}\n"
                      f"benchmark: {{duration_s: 0.5}}\ngates: {{junit: {junit}, min_throughput: 1}}\n")  # fmt: skip
    proc = run_cli("run", recipe, "--no-cache")
    assert proc.returncode != 0 and not (tmp_path / "out").exists()
    suite = parse_junit(junit)
    by_name = cases(suite)
    assert [c.tag for c in by_name["convert: ran"]] == ["system-out"]  # it finished
    error = by_name["benchmark: ran"].find("error")
    assert error is not None and "dynamic shape" in error.get("message", "")
    assert by_name["min_throughput: throughput >= 1"].find("skipped") is not None  # not checked


def test_junit_inside_out_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("benchmark", "-m", NUDENET_ONNX, "-o", out, "--junit", out / "junit.xml", "--dry-run", *SHORT)
    assert proc.returncode == 2 and "inside OUT" in proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]) == 1


def test_stage_checks_and_publish_error_render(tmp_path: Path) -> None:
    """A stage's failed checks are one failing case each; an error after every stage ran names publishing."""
    data = {
        "command": "dataset", "started_at": "2026-01-01T00:00:00+00:00", "duration_s": 1.5,
        "stages": [{"stage": "dataset", "summary": "2 problems", "steps": [{"seconds": 1.2}],
                    "check_failures": ["a.jpg: unreadable image", "b.txt: empty label"]}],
        "gates": [],
    }  # fmt: skip
    path = tmp_path / "j.xml"
    path.write_text(render(data, ["dataset"]))
    suite = parse_junit(path)
    failures = [c.find("failure") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [f.get("message") for f in failures if f is not None] == ["a.jpg: unreadable image", "b.txt: empty label"]
    path.write_text(render(data, ["dataset", "convert"], RuntimeError("boom")))
    by_name = cases(parse_junit(path))
    assert by_name["convert: ran"].find("error") is not None  # the stage without a record is where it stopped
    path.write_text(render(data, ["dataset", "convert", "quantize"], RuntimeError("boom")))
    assert cases(parse_junit(path))["quantize: ran"].find("skipped") is not None  # never started
    path.write_text(render(data, ["dataset"], OSError(28, "No space left on device")))
    error = cases(parse_junit(path))["publish OUT"].find("error")
    assert error is not None and "No space left" in error.get("message", "")
