"""What a one-answer `ovtool generate` no longer pays over the plain library (issue #14): psutil's
process scan, importlib.metadata, Rich for plain progress lines, and the process teardown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from io import StringIO
from pathlib import Path

import psutil
import pytest

from ovtool import measure
from ovtool.cache import keys

ROOT = Path(__file__).resolve().parents[2]


def _psutil_rss(with_children: bool) -> int:
    proc = psutil.Process()
    return proc.memory_info().rss + (sum(c.memory_info().rss for c in proc.children(recursive=True))
                                     if with_children else 0)  # fmt: skip


def test_rss_read_from_proc_counts_children_and_grandchildren() -> None:
    """The same figure psutil gives (own RSS, plus every descendant's), read from /proc without scanning
    every process on the machine; a grandchild started by a child counts too."""
    procs = [subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(40 << 20); time.sleep(30)"]),
             subprocess.Popen(["sh", "-c", f"{sys.executable} -c 'import time; x = bytearray(40 << 20); "
                                           "time.sleep(30)' & wait"])]  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while len(psutil.Process().children(recursive=True)) < 3 or _psutil_rss(True) - _psutil_rss(False) < 80 << 20:
            assert time.monotonic() < deadline, "children did not start"
            time.sleep(0.1)
        ours, theirs = measure.current_rss_bytes(), _psutil_rss(True)
        own = measure.current_rss_bytes(with_children=False)
        assert abs(ours - theirs) < 4 << 20, (ours, theirs)
        assert abs(own - _psutil_rss(False)) < 4 << 20
        assert ours - own > 80 << 20  # both 40 MiB descendants, the grandchild included
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


NAMES = ["openvino", "openvino-genai", "openvino_tokenizers", "OpenVINO.Tokenizers", "pydantic", "PyYAML",
         "typing_extensions", "typing-extensions", "no-such-distribution-here", "ovtool", "pip"]  # fmt: skip


def _metadata_versions(names: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def test_library_versions_equal_importlib_metadata_without_importing_it() -> None:
    code = f"import json, sys; from ovtool.cache.keys import library_versions; v = library_versions({NAMES!r}); " \
           "print(json.dumps([v, 'importlib.metadata' in sys.modules]))"  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    versions, imported = json.loads(proc.stdout)
    assert versions == _metadata_versions(NAMES)
    assert versions["openvino"] and versions["no-such-distribution-here"] is None
    assert not imported


def test_library_versions_leave_a_zip_to_importlib_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution inside a zip on sys.path is found the way importlib.metadata finds it."""
    archive = tmp_path / "dists.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_dist-1.2.3.dist-info/METADATA", "Name: zipped-dist\nVersion: 1.2.3\n")
    monkeypatch.syspath_prepend(str(archive))
    assert keys.library_versions(["zipped-dist", "pydantic"]) == {"zipped-dist": "1.2.3",
                                                                  "pydantic": metadata.version("pydantic")}  # fmt: skip


def test_progress_lines_are_rich_text_without_importing_rich() -> None:
    message = "▸ generate: load\tpipeline\r (x) [bold]not markup[/bold]\x07"
    code = f"import sys; from ovtool import console; console.info({message!r}); print('rich' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    from rich.console import Console

    buffer = StringIO()
    Console(file=buffer, highlight=False, soft_wrap=True).print(message, markup=False)
    assert proc.stderr == buffer.getvalue()
    assert proc.stdout.strip() == "False"


FAST_EXIT = """
import atexit, sys, threading, time
from pathlib import Path
from ovtool import fast_exit
out = Path(sys.argv[1])
class Heavy:
    def __del__(self):
        (out / "teardown").write_text("ran")
def late():
    time.sleep(1)
    (out / "thread").write_text("done")
fast_exit.arm()
if sys.argv[2] == "profiled":
    sys.setprofile(lambda *a: None)
    fast_exit.arm()
    sys.setprofile(None)
held = Heavy()
fast_exit.keep(held)
del held
atexit.register(lambda: (out / "atexit").write_text("ran"))
if sys.argv[2] == "thread":
    threading.Thread(target=late).start()
sys.stdout.write("unflushed result")
fast_exit.end(3)
"""


@pytest.mark.parametrize("case", ["armed", "thread", "profiled"])
def test_fast_exit_skips_only_the_teardown(tmp_path: Path, case: str) -> None:
    """Armed: stdout flushed, atexit handlers run, exit code kept, what `keep` holds is never torn down.
    Another Python thread alive, or a profiler at arm time: a normal exit (the thread finishes, teardown runs)."""
    proc = subprocess.run([sys.executable, "-c", FAST_EXIT, str(tmp_path), case], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "unflushed result"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "teardown").exists() == (case != "armed")
    assert (tmp_path / "thread").exists() == (case == "thread")


def test_unarmed_keep_holds_nothing_and_end_is_sys_exit() -> None:
    from ovtool import fast_exit

    assert not fast_exit.armed()  # pytest runs main(argv) in-process at most: never armed here
    fast_exit.keep(object())
    assert fast_exit._kept == []
    with pytest.raises(SystemExit) as exc:
        fast_exit.end(4)
    assert exc.value.code == 4


def test_only_the_cli_process_arms_it() -> None:
    """`main(argv)` (tests, embedding programs) never ends the process itself."""
    code = """
from ovtool import fast_exit
from ovtool.cli.main import main
try:
    main(["generate", "--help"])
except SystemExit as exc:
    print(exc.code, fast_exit.armed())
"""
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env,
                          check=False)  # fmt: skip
    assert proc.stdout.strip().splitlines()[-1] == "0 False", proc.stderr
