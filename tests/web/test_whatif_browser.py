"""The what-if preview in the rulebook editor, in Chromium: edit the draft, pick the period, press
preview; a progress bar, then the tables (quotes shown as text, calls linked)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the `chromium` fixture (tests/web/conftest.py)
    expect = None

from qcpipe.scoring import DEFAULT_RULEBOOK
from tests.helpers.browser import live_server, log_in
from tests.helpers.web import PASSWORD

pytestmark = pytest.mark.browser

GREETING_AT_5 = "    deduction: 5\n    role: agent\n    # The first agent turn"
FORBIDDEN_PHRASES = "      # --- 推诿: pushing the caller away"
SHOTS = Path(os.environ.get("QCPIPE_SCREENSHOTS", "/tmp/qcpipe-screenshots"))


def test_preview_a_draft_in_the_editor(chromium, app, backend) -> None:
    if backend != "sqlite":
        pytest.skip("the page is the same on each database: test_whatif_api covers PostgreSQL")
    text = DEFAULT_RULEBOOK.read_text(encoding="utf-8")
    draft = text.replace(GREETING_AT_5, GREETING_AT_5.replace("5", "8", 1)).replace(
        FORBIDDEN_PHRASES, f"      - phrase: 上门检修\n{FORBIDDEN_PHRASES}")
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    try:
        with live_server(app) as base:
            page = context.new_page()
            log_in(page, base, "lead", PASSWORD, "/rulebook")
            page.fill("#rulebook-yaml", draft)
            page.fill("#whatif-from", "2026-09-01")
            page.fill("#whatif-to", "2026-10-31")
            page.click("#preview-button")
            section = page.locator("#whatif")
            expect(section.locator("table.whatif-checks")).to_be_visible(timeout=60_000)
            expect(section.locator(".whatif-summary")).to_contain_text("6")
            checks = section.locator("table.whatif-checks tbody tr")
            expect(checks).to_have_count(1)
            expect(checks.first).to_contain_text("forbidden_phrase")
            expect(checks.first.locator("q").first).to_contain_text("上门检修")
            calls = section.locator("table.whatif-calls tbody tr")
            expect(calls).to_have_count(5)  # C01–C04 say 上门检修, C06 misses the greeting; C05 neither
            expect(section.locator("table.whatif-calls a[href='/calls/C03']")).to_have_text("C03")
            expect(section.locator("table.whatif-agents tbody tr")).to_have_count(2)
            SHOTS.mkdir(parents=True, exist_ok=True)
            section.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "whatif.png"), full_page=True)
            section.screenshot(path=str(SHOTS / "whatif-section.png"))
    finally:
        context.close()
