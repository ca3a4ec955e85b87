"""The monthly report's files (CSV, XLSX, HTML seen in a real browser) and its command."""

from __future__ import annotations

import csv
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.chart import LineChart

from qcpipe.reports import to_csv, to_html, to_xlsx
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.rows import RULES

COMPLIANCE = ["compliance.greeting", "compliance.closing", "compliance.hold_notice"]
# The files are written from the report alone (computed on each backend in test_monthly.py):
# one database is enough to build it. The command runs on each backend.
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"])


@ON_SQLITE
def test_csv_columns_and_values(october, tmp_path):
    to_csv(october, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["agent_id", "agent_name", "team", "calls", "score", "rank", "flags", "team_rank", "change",
                             "calls_unheard", *COMPLIANCE]
    # One row an agent, then the center's.
    assert [row["agent_id"] for row in rows] == ["A4", "A2", "A3", "A6", "A5", "A1", "(center)"]
    a1, a2, center = rows[-2], rows[1], rows[-1]
    assert a1 == {
        "agent_id": "A1", "agent_name": "王磊", "team": "一组", "calls": "3", "score": "75.2", "rank": "6",
        "flags": "below_pass_line;bottom_10_percent;failing_3_months", "team_rank": "3", "change": "1.2",
        "calls_unheard": "0", "compliance.greeting": "0.3333", "compliance.closing": "1.0", "compliance.hold_notice": "0.0",
    }
    assert (center["calls"], center["score"], center["calls_unheard"], center["rank"]) == ("9", "84.2", "0", "")
    assert (a2["change"], a2["compliance.closing"], a2["flags"]) == ("", "", "")


@ON_SQLITE
def test_xlsx_has_table_heatmap_and_trend_chart(october, tmp_path):
    to_xlsx(october, tmp_path / "r.xlsx")
    book = load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["Report", "Compliance", "Trend"]
    table = book["Report"]
    assert [c.value for c in table[3]][:9] == ["agent_id", "agent_name", "team", "calls", "score", "rank", "flags", "team_rank", "change"]
    assert [c.value for c in table[9]][:6] == ["A1", "王磊", "一组", 3, 75.2, 6]

    heat = book["Compliance"]
    assert [c.value for c in heat[2]][1:] == list(RULES)
    assert [c.value for c in heat[8]][0] == "A1 王磊"
    assert heat["B8"].value == pytest.approx(1 / 3) and heat["C4"].value == "n/a"
    scales = [rule for ranges in heat.conditional_formatting for rule in ranges.rules if rule.type == "colorScale"]
    assert len(scales) == 1

    trend = book["Trend"]
    assert [c.value for c in trend[1]][-1] == "pass line"
    assert [trend.cell(row, 1).value for row in range(2, 6)] == ["2026-07", "2026-08", "2026-09", "2026-10"]
    (chart,) = trend._charts
    assert isinstance(chart, LineChart)
    assert len(chart.series) == len(october.agents) + 1  # one line an agent, and the pass line


@ON_SQLITE
def test_html_has_charts_heatmap_and_flags(october, tmp_path):
    to_html(october, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="trend"') == len(october.agents)
    assert page.count('class="pass-line"') == len(october.agents)
    assert '<table class="heat">' in page and "background:#" in page
    assert page.count('<span class="flag">failing 3 months</span>') == 3  # A1's card, table row, chart
    assert "<script" not in page and "https://" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(browser: str, page: Path, png: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                f"--screenshot={png}", "--window-size=1280,2000", page.as_uri(),
            ],
            capture_output=True, timeout=120, check=True,
        )


def _png_size_and_pixel_bytes(png: Path) -> tuple[tuple[int, int], bytes]:
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        chunks[kind] = chunks.get(kind, b"") + data[at + 8 : at + 8 + length]
        at += 12 + length
    return struct.unpack(">II", chunks[b"IHDR"][:8]), zlib.decompress(chunks[b"IDAT"])


@ON_SQLITE
@pytest.mark.browser
def test_html_renders_in_a_headless_browser(october, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    to_html(october, tmp_path / "report.html")
    (tmp_path / "blank.html").write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    _screenshot(browser, tmp_path / "report.html", tmp_path / "report.png")
    _screenshot(browser, tmp_path / "blank.html", tmp_path / "blank.png")
    size, pixels = _png_size_and_pixel_bytes(tmp_path / "report.png")
    _, blank_pixels = _png_size_and_pixel_bytes(tmp_path / "blank.png")
    assert size == (1280, 2000)
    # Not blank: a page of text, colours and lines compresses far worse than an empty white one,
    # and its filtered rows hold many more distinct byte values.
    assert (tmp_path / "report.png").stat().st_size > 5 * (tmp_path / "blank.png").stat().st_size
    assert len(set(pixels)) > 100 > len(set(blank_pixels))


def test_command_prints_and_writes(center, tmp_path):
    def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return qcpipe_in_process("report", "monthly", "--db", center.url, *args, home=tmp_path, check=False)

    printed = run_cli("--month", "2026-10")
    assert printed.returncode == 0, printed.stderr
    assert "center mean 84.2" in printed.stdout and "failing 3 months" in printed.stdout
    for format in ("csv", "xlsx", "html"):
        written = run_cli("--month", "2026-10", "--team", "一组", "--format", format, "-o", str(tmp_path / f"r.{format}"))
        assert written.returncode == 0, written.stderr
        assert (tmp_path / f"r.{format}").stat().st_size > 0
    no_file = run_cli("--month", "2026-10", "--format", "csv")
    assert no_file.returncode == 2 and "give it with -o FILE" in no_file.stderr  # a usage error
    bad_month = run_cli("--month", "2026-13")
    assert bad_month.returncode == 1 and "month '2026-13' is not YYYY-MM" in bad_month.stderr
    assert "no scored calls in 2027-01" in run_cli("--month", "2027-01").stderr
