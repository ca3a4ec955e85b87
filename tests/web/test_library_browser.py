"""The trainers' library in a real browser (Debian's Chromium under Playwright) as the trainer,
on the seeded center (tests/helpers/web.py) in SQLite: filter by a check, play a clip in place,
mark an example with a note, build a pack and download it. A screenshot goes to /tmp/qcpipe-shots/."""

from __future__ import annotations

import csv
import io
import shutil
import time
import zipfile
from pathlib import Path

import pytest
import soundfile

from tests.helpers.browser import log_in
from tests.helpers.web import PASSWORD

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/qcpipe-shots")


def _until(page, expression: str, timeout_s: float = 10.0) -> None:
    """Wait until `expression` is true in the page (wait_for_function evaluates text, which CSP refuses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout_s} s: {expression}")
        time.sleep(0.05)


def test_trainer_filters_plays_marks_and_downloads_a_pack(chromium, base: str, tmp_path: Path) -> None:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        log_in(page, base, "trainer", PASSWORD, path="/library")
        assert page.url.endswith("/library")

        # Filter by a check: only its findings remain.
        page.select_option("#library-filters select[name=rule]", "forbidden_phrase")
        with page.expect_navigation():
            page.click("#library-filters button[type=submit]")
        entries = page.locator("article.lib-entry")
        assert entries.count() == 3
        assert set(entries.evaluate_all("els => els.map(e => e.dataset.ruleId)")) == {"forbidden_phrase"}
        assert page.locator("article.lib-entry mark").first.inner_text() == "我也没办法"

        # Play the first clip in place; the others are not fetched (preload="none").
        first = "document.querySelectorAll('audio.clip')[0]"
        page.evaluate(f"{first}.play()")
        _until(page, f"{first}.readyState >= 2 && {first}.currentTime > 0.3")
        assert page.evaluate(f"{first}.duration") > 1 and page.evaluate(f"!{first}.error")
        assert page.evaluate("document.querySelectorAll('audio.clip')[2].readyState") == 0
        page.evaluate("document.querySelectorAll('audio.clip')[1].play()")  # one plays at a time
        _until(page, f"{first}.paused")
        page.evaluate("document.querySelectorAll('audio.clip')[1].pause()")

        # Mark the first one as a training example with a note.
        article = entries.first
        finding_id = article.get_attribute("data-finding-id")
        article.locator("input[name=note]").fill("推诿客户的典型说法，角色扮演用")
        with page.expect_navigation():
            article.locator(".mark-form button[type=submit]").click()
        marked = page.locator(f"#finding-{finding_id}")
        assert "forbidden_phrase" in page.url and marked.locator(".marked-badge").count() == 1
        assert "推诿客户的典型说法" in marked.locator(".mark-info").inner_text()
        assert "trainer" in marked.locator(".mark-info").inner_text()

        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = tmp_path / "trainer-library.png"
        page.screenshot(path=str(shot), full_page=True)
        shutil.copyfile(shot, SHOTS / shot.name)

        # Build the pack of the current filter and download it.
        with page.expect_download() as waiting:
            page.click("#build-pack")
        download = waiting.value
        assert download.suggested_filename.startswith("training-pack-forbidden_phrase-")
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        with zipfile.ZipFile(saved) as pack:
            names = set(pack.namelist())
            assert {"index.csv", "index.html"} <= names
            rows = list(csv.DictReader(io.StringIO(pack.read("index.csv").decode("utf-8"))))
            assert len(rows) == 3 and {r["rule_id"] for r in rows} == {"forbidden_phrase"}
            assert [r["training_note"] for r in rows if r["finding_id"] == finding_id] == ["推诿客户的典型说法，角色扮演用"]
            clips = [name for name in names if name.endswith(".wav")]
            assert sorted(clips) == sorted(r["clip"] for r in rows)
            for clip in clips:
                info = soundfile.info(io.BytesIO(pack.read(clip)))
                assert info.channels == 2 and info.duration > 0

        # Every check, unfiltered: a missing phrase marks its whole window.
        page.goto(base + "/library?rule=greeting")
        assert page.locator("article.lib-entry").count() == 4
        assert page.locator("article.lib-entry").first.locator("mark").count() >= 1
        page.screenshot(path=str(tmp_path / "trainer-library-greeting.png"), full_page=True)
        shutil.copyfile(tmp_path / "trainer-library-greeting.png", SHOTS / "trainer-library-greeting.png")
        assert errors == []
    finally:
        context.close()
