"""The monthly report in a real browser (Debian's Chromium under Playwright), as the team leader of
一组 uses it: open October 2026, see their team only, click a heatmap cell, land on the calls behind it.

The seeded center of tests.helpers.web (A03 of 一组: C01, C03, C05 in October; A07 of 二组), in
SQLite (the server-side tests cover PostgreSQL). Screenshots are copied to /tmp/qcpipe-shots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the `chromium` fixture (tests/web/conftest.py)
    expect = None

from tests.helpers.browser import log_in, screenshot
from tests.helpers.web import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium) -> Iterator:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()


def test_team_leader_clicks_a_heatmap_cell_and_lands_on_the_calls_behind_it(page, base: str, tmp_path: Path) -> None:
    log_in(page, base, "leader1", PASSWORD, path="/reports/monthly?month=2026-10")
    assert "/reports/monthly" in page.url
    expect(page.locator("h1")).to_contain_text("2026-10")
    expect(page.locator("#ranking tbody tr")).to_have_count(1)
    expect(page.locator("#ranking tbody tr")).to_have_attribute("data-agent-id", "A03")
    expect(page.locator("#heatmap tbody tr")).to_have_count(1)
    assert "A07" not in page.content()
    screenshot(page, "monthly-leader1.png")

    # A03 said a 禁语 on two of three October calls: the cell shows 33 % and opens those calls.
    cell = page.locator('#heatmap tr[data-agent-id="A03"] td[data-rule="forbidden_phrase"]')
    expect(cell).to_have_text("33%")
    expect(cell).to_have_class("heat heat-3")
    with page.expect_navigation():
        cell.locator("a").click()
    assert "/worklist?" in page.url and "agent=A03" in page.url and "rule=forbidden_phrase" in page.url
    expect(page.locator("#worklist tbody tr[data-call-id]")).to_have_count(2)
    assert set(page.locator("#worklist tbody tr[data-call-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.callId)")) == {"C01", "C05"}
    expect(page.locator('input[name="rule"]')).to_have_value("forbidden_phrase")
    expect(page.locator('input[name="date_from"]')).to_have_value("2026-10-01")
    screenshot(page, "monthly-cell-worklist.png")
    assert not page.errors, page.errors


def test_lead_sees_both_teams_and_opens_a_scorecard(page, base: str, tmp_path: Path) -> None:
    log_in(page, base, "lead", PASSWORD, path="/reports/monthly?month=2026-10")
    expect(page.locator("#ranking tbody tr")).to_have_count(2)
    screenshot(page, "monthly-lead.png")
    with page.expect_navigation():
        page.locator('#ranking tr[data-agent-id="A07"] a').click()
    assert page.url.endswith("/agents/A07?month=2026-10")
    expect(page.locator("#score")).to_have_text("80.0")
    expect(page.locator("#worst-calls tbody tr[data-call-id]")).to_have_count(2)
    screenshot(page, "scorecard-a07.png")
    assert not page.errors, page.errors
