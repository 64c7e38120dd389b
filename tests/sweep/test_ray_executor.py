"""The Ray executor on a real local Ray instance (2 CPUs here), against the local executor.

Trials are real `ovtool run`s of the NUDENET ONNX model (convert in about a second, the stage cache
off so every executor converts for itself); one trial is invalid on purpose. Ray is started once for
the module (loopback only, `connect("local")`) and shut down at its end; the Ctrl-C test runs its
own driver in a subprocess so the signal reaches a real process group.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ovtool.sweep.executors import LocalExecutor, TrialJob, TrialOutcome
from ovtool.sweep.trial_archive import pack_trial, unpack_trial
from tests.conftest import NUDENET_ONNX

VOC_JPEGS = NUDENET_ONNX.parents[1] / "voc_sample" / "data_dataset_voc" / "JPEGImages"
COMPARED = ("ir_size_mb", "model_dir_size_mb", "weight_elements")


def needs_ray() -> None:
    """Skip without Ray; find_spec, not importorskip: importing Ray before `connect` sets its loopback
    environment would give it this machine's external address."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'ovtool[ray]')")


def convert_job(out: Path, trial_id: str, weight_format: str) -> TrialJob:
    recipe = {
        "model": str(NUDENET_ONNX),
        "convert": {"weight_format": weight_format, "inputs": {"images": {"shape": [1, 3, 320, 320]}}},
        "cache": {"enabled": False},
    }
    return TrialJob(trial_id, yaml.safe_dump(recipe), out / "trials" / trial_id, None)


def jobs_for(out: Path) -> list[TrialJob]:
    bad = TrialJob("bad", yaml.safe_dump({"model": str(NUDENET_ONNX.with_name("missing.onnx")), "convert": {}}),
                   out / "trials" / "bad", None)  # fmt: skip
    return [convert_job(out, "fp16", "fp16"), convert_job(out, "fp32", "fp32"), bad]


def summary(outcomes: list[TrialOutcome], out: Path) -> dict[str, tuple]:
    """Per trial: ok, exit code, error, the compared metrics, the published model's sha256."""
    table = {}
    for o in outcomes:
        metrics = (o.run_json or {"stages": [{"metrics": {}}]})["stages"][0]["metrics"]
        model = out / "trials" / o.id / "model" / "openvino_model.bin"
        digest = hashlib.sha256(model.read_bytes()).hexdigest() if model.exists() else None
        table[o.id] = (o.ok, o.exit_code, o.error, tuple(metrics.get(k, {}).get("value") for k in COMPARED), digest)
    return table


@pytest.fixture(scope="module")
def ray_local() -> Iterator[float]:
    """A local Ray instance for the module; yields its startup time in seconds."""
    needs_ray()
    from ovtool.sweep.ray_executor import connect, disconnect

    start = time.perf_counter()
    assert connect("local", local_cpus=2)
    startup = time.perf_counter() - start
    import ray

    assert ray.util.get_node_ip_address() == "127.0.0.1"  # nothing listens beyond loopback
    yield startup
    disconnect()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple]]:
    out = tmp_path_factory.mktemp("local") / "sweep"
    return out, summary(list(LocalExecutor().run(jobs_for(out))), out)


@pytest.mark.slow
def test_ray_trials_match_the_local_executor(ray_local: float, local_run, tmp_path: Path) -> None:
    from ovtool.sweep.ray_executor import RayExecutor

    out = tmp_path / "sweep"
    got = summary(list(RayExecutor(num_cpus_per_trial=1).run(jobs_for(out))), out)
    assert got == local_run[1]
    assert got["fp16"][0] and got["fp32"][0] and got["fp16"][3] != got["fp32"][3]
    assert not got["bad"][0] and got["bad"][1] == 2 and "missing.onnx" in got["bad"][2]
    # OUT is visible from the workers here: the trial ran straight into OUT (no tar round trip)
    assert yaml.safe_load((out / "trials" / "fp16" / "recipe.yaml").read_text())["output"] == str(
        out / "trials" / "fp16"
    )
    assert not [p.name for p in (out / "trials").iterdir() if p.name.startswith(".ovtool-")]  # probe removed


@pytest.mark.slow
def test_tar_gather_publishes_the_same_trials_into_out(ray_local: float, local_run, tmp_path: Path) -> None:
    from ovtool.sweep.ray_executor import RayExecutor

    out = tmp_path / "sweep"
    got = summary(list(RayExecutor(gather="tar").run(jobs_for(out))), out)
    assert got == local_run[1]
    trial = out / "trials" / "fp16"
    # the trial ran in the worker's scratch and came back as a tar: its recipe names that scratch OUT
    assert yaml.safe_load((trial / "recipe.yaml").read_text())["output"] != str(trial)
    assert (trial / "model").is_symlink() and os.readlink(trial / "model") == "convert/model"
    assert (out / "trials" / "fp16.yaml").is_file() and (out / "trials" / "bad.log").read_text().strip()
    assert not (out / "trials" / "bad").exists()  # it published nothing
    assert sorted(p.name for p in (out / "trials").iterdir()) == [
        "bad.log", "bad.yaml", "fp16", "fp16.log", "fp16.yaml", "fp32", "fp32.log", "fp32.yaml",
    ]  # fmt: skip


def test_unpack_replaces_a_trial_atomically_and_refuses_escaping_links(local_run, tmp_path: Path) -> None:
    from ovtool.errors import UserError

    src_out, table = local_run
    packed = pack_trial(src_out / "trials" / "fp16")
    assert packed.links == {"model": "convert/model"} and packed.recipe
    job = convert_job(tmp_path / "sweep", "fp16", "fp16")
    for _ in range(2):  # the second publish replaces the first (a re-run of the trial)
        unpack_trial(job, packed)
    assert summary([TrialOutcome("fp16", True, 0, None, None)], tmp_path / "sweep")["fp16"][4] == table["fp16"][4]
    assert [p.name for p in job.out_dir.parent.iterdir() if p.name.startswith(".ovtool")] == []
    evil = type(packed)(packed.archive, {"model": "../../outside"}, packed.recipe, packed.log)
    with pytest.raises(UserError, match="outside the trial folder"):
        unpack_trial(convert_job(tmp_path / "other", "fp16", "fp16"), evil)
    assert not (tmp_path / "other" / "trials" / "fp16").exists()


def test_missing_ray_exits_2_naming_the_extra(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.modules["ray"] = None  # Ray not installed
        from pathlib import Path
        from ovtool.errors import UserError
        from ovtool.sweep.executors import TrialJob
        from ovtool.sweep.ray_executor import RayExecutor, check_ray_available
        for attempt in (check_ray_available,
                        lambda: list(RayExecutor().run([TrialJob("t", "", Path({str(tmp_path)!r}) / "t", None)]))):
            try:
                attempt()
            except UserError as exc:
                print(exc.exit_code, exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["2 sweep executor ray needs `pip install 'ovtool[ray]'`"] * 2


DRIVER = """
import sys, time, yaml
from pathlib import Path
from ovtool.sweep.executors import TrialJob
from ovtool.sweep.ray_executor import RayExecutor
out, onnx, jpegs = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
recipe = {"model": onnx, "cache": {"enabled": False},
          "quantize": {"calibration": {"kind": "image", "path": jpegs, "format": "image_folder",
                                       "preprocess": {"resize": [320, 320], "scale": 255}},
                       "quality": {"speed_seconds": 20}}}  # long enough that Ctrl-C lands mid-trial
jobs = [TrialJob(f"q{i}", yaml.safe_dump(recipe), out / "trials" / f"q{i}", None) for i in range(3)]
try:
    for outcome in RayExecutor(local_cpus=2).run(jobs):
        print("finished", outcome.id, "ok" if outcome.ok else f"cut short (exit {outcome.exit_code})", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.slow
def test_ctrl_c_cancels_the_trials_and_shuts_ray_down(tmp_path: Path) -> None:
    needs_ray()
    import psutil

    out = tmp_path / "sweep"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(out), str(NUDENET_ONNX), str(VOC_JPEGS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    family: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # two trials running (2 CPUs, 1 each), the third queued
            kids = psutil.Process(driver.pid).children(recursive=True)
            family.update({p.pid: p for p in kids})
            runs = [p for p in kids if _is_trial(p)]
            if len(runs) == 2:
                break
            assert driver.poll() is None, driver.communicate()[1][-2000:]
            time.sleep(0.5)
        else:
            pytest.fail("the trials never started")
        time.sleep(2)
        family.update({p.pid: p for p in psutil.Process(driver.pid).children(recursive=True)})
        os.killpg(driver.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        stdout, stderr = driver.communicate(timeout=90)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, (stdout[-2000:], stderr[-2000:])
    # trials the same Ctrl-C cut short may be reported before the driver sees it; none may have finished
    assert "interrupted" in stdout and " ok" not in stdout, stdout
    _, alive = psutil.wait_procs(list(family.values()), timeout=15)
    assert not alive, [p.cmdline()[:2] for p in alive]  # Ray's processes, workers and trials all ended
    # the cancelled trials' `ovtool run` got SIGTERM and removed their staging; nothing was published
    assert sorted(p.name for p in (out / "trials").iterdir() if not p.name.endswith((".yaml", ".log"))) == []


def _is_trial(proc) -> bool:
    try:
        return "ovtool" in proc.cmdline() and "run" in proc.cmdline()
    except Exception:  # psutil.NoSuchProcess and friends: not a trial any more
        return False
