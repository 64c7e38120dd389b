"""The human views of a run: report.md fits a PR comment, report.html reads well, one CPU name, CSV memory."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ovtool.context import StageContext
from ovtool.gates import GateOutcome
from ovtool.report import MD_LIMIT, RunRecord, StageRecord, render_html, render_markdown
from ovtool.results import Metric, Plot, StageResult, Table
from tests.conftest import NUDENET_ONNX, run_cli

PNG = bytes.fromhex("89504e470d0a1a0a")  # enough of a PNG for the HTML view


def record_with(rows: int, tmp_path: Path) -> tuple[RunRecord, dict[str, object]]:
    result = StageResult(
        "dataset", summary="see `dataset/` for the split", metrics={"samples": Metric(rows, "samples")},
        tables=[Table("Per item", ["item", "label", "note"], [[f"item-{i:05d}", "cat", "x" * 40] for i in range(rows)]),
                Table("Second", ["a", "b"], [["x", 1]])],
        plots=[Plot("Items per label", PNG)],
    )  # fmt: skip
    record = RunRecord("dataset", "0" * 64, None, "2026-01-01T00:00:00+00:00", duration_s=1.0)
    record.stages.append(StageRecord(result, StageContext("dataset", tmp_path), None))
    record.gates.append(GateOutcome("min_similarity", 0.99, 0.5, False, "quantize"))
    return record, record.as_dict()


def test_markdown_fits_a_github_comment_and_says_what_was_cut(tmp_path: Path) -> None:
    small = render_markdown(*record_with(10, tmp_path))
    assert "Cut to stay under" not in small and small.count("item-") == 10
    record, data = record_with(5000, tmp_path)
    text = render_markdown(record, data)
    assert len(text) <= MD_LIMIT < 65_536
    assert len(render_markdown(record, data, limit=10**7)) > MD_LIMIT  # it was too long uncut
    tail = text.strip().splitlines()[-1]
    assert "Cut to stay under GitHub's 65,536-character comment limit" in tail and "Per item (5000 rows)" in tail
    assert "## Environment" in text and "| min_similarity |" in text  # the verdict and the machine are kept
    assert re.search(r"_… \d+ more rows in run.json_", text)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, str]] = []  # (tag, text or alt) in document order
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.order.append(("img", dict(attrs).get("alt") or ""))
        elif tag in ("h1", "h2", "h3", "table"):
            self.order.append((tag, ""))
            self._open = tag if tag != "table" else None

    def handle_data(self, data: str) -> None:
        if self._open and self.order:
            tag, text = self.order[-1]
            self.order[-1] = (tag, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None


def test_html_headings_plots_and_alt_text(tmp_path: Path) -> None:
    parser = _Html()
    parser.feed(render_html(*record_with(3, tmp_path)))
    headings = [(tag, text) for tag, text in parser.order if tag.startswith("h")]
    assert all(text.strip() for _, text in headings), headings  # no empty heading
    assert not any("`" in text or "#" in text for _, text in headings)  # no raw Markdown
    assert ("h2", "Stage dataset") in headings
    assert next(h for h in headings if h[0] == "h2") == ("h2", "Gates")  # the verdict first
    tags = [tag for tag, _ in parser.order]
    stage_at = tags.index("h2", 1 + tags.index("h2"))  # the stage's heading
    img_at = tags.index("img")
    assert tags[stage_at:img_at].count("table") == 2  # its headline tables, then the plot
    assert parser.order.index(("h3", "Second")) > img_at  # the other tables follow the plot
    assert all(alt.strip() for tag, alt in parser.order if tag == "img")


def test_clipped_histogram_says_where_it_cut() -> None:
    from ovtool.plotting import clipped_hist, pyplot

    plt = pyplot()
    _, ax = plt.subplots()
    lengths = [200 + (i % 700) for i in range(990)] + [4432] * 10
    note = clipped_hist(ax, lengths, "words per text")
    assert ax.get_xlim()[1] < 1000 and "99th percentile" in note and "up to 4432" in note
    assert note in ax.get_xlabel()
    _, ax2 = plt.subplots()
    assert clipped_hist(ax2, [200 + (i % 700) for i in range(1000)], "words") == ""
    assert ax2.get_xlim()[1] >= 899
    plt.close("all")


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    proc = run_cli("benchmark", "-m", NUDENET_ONNX, "-o", out, "--shape", "[1,3,320,320]",
                   "--set", "benchmark.duration_s=0.5", "--no-cache")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_one_cpu_name_and_csv_memory(bench_out: Path) -> None:
    import openvino as ov

    run = json.loads((bench_out / "run.json").read_text())
    full_name = ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
    assert run["environment"]["cpu"] == full_name == run["stages"][0]["details"]["environment"]["device_name"]
    (row,) = csv.DictReader((bench_out / "report.csv").open())
    peak = run["stages"][0]["metrics"]["peak_rss_mb"]["value"]
    assert float(row["peak_rss_mb"]) == peak and 0 < float(row["rss_added_mb"]) <= peak
    parser = _Html()
    parser.feed((bench_out / "report.html").read_text())
    assert [alt for tag, alt in parser.order if tag == "img"] and all(a for t, a in parser.order if t == "img")
