"""The admin's pages in a real browser (Debian's Chromium under Playwright) over the seeded center
(tests/helpers/web.py) in SQLite: calibration → a check → its overturned findings with the
monitor's comment; the audit log filtered to logins; the nightly job's runs and failed calls, and
marking one for retry. Screenshots go to /tmp/qcpipe-shots/ to be looked at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the `chromium` fixture (tests/web/conftest.py)
    expect = None

from qcpipe.accounts import log_in as account_log_in
from qcpipe.accounts.roles import Viewer
from qcpipe.config import Settings
from qcpipe.review import review_as
from qcpipe.store import Database
from qcpipe.store.models import BatchRun, BatchRunStatus, CallStatus, UserRole, utcnow
from qcpipe.web import create_app
from tests.helpers.browser import live_server, log_in, screenshot
from tests.helpers.databases import copy_rows
from tests.helpers.web import PASSWORD, finding_of, stored_call

pytestmark = pytest.mark.browser

COMMENT = "客户先开口，坐席随后问候了"


@pytest.fixture
def base(sqlite_db: Database, center_template: Database) -> Iterator[str]:
    """The seeded center with a greeting overturned (C02), a finished and a running run, and C03 failed."""
    copy_rows(center_template, sqlite_db)
    now = utcnow()
    with sqlite_db.transaction() as session:
        monitor = Viewer("monitor1", UserRole.MONITOR)
        review_as(session, monitor, finding_of(session, "C01", "greeting").id, confirm=True, comment="", now=now)
        review_as(session, monitor, finding_of(session, "C02", "greeting").id, confirm=False, comment=COMMENT, now=now)
        session.add_all([
            BatchRun(source="/recordings/2026-11-24", host="asr-1", started_at=now - timedelta(hours=26),
                     finished_at=now - timedelta(hours=25), status=BatchRunStatus.FINISHED, calls_done=118,
                     calls_skipped=2, calls_failed=1, audio_s=35280.0, wall_s=3420.0),
            BatchRun(source="/recordings/2026-11-25", host="asr-1", started_at=now - timedelta(minutes=3),
                     calls_done=40, audio_s=12000.0, wall_s=170.0),
        ])
        call = stored_call(session, "C03")
        call.status, call.error = CallStatus.FAILED, "D110001.wav: CUDA out of memory"
        account_log_in(session, "monitor1", "a wrong password", now=now - timedelta(minutes=5))
    with live_server(create_app(Settings(db_url=sqlite_db.url), store=sqlite_db)) as url:
        yield url


def test_admin_calibrates_reads_the_audit_log_and_retries_a_failed_call(chromium, base: str) -> None:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        log_in(page, base, "admin", PASSWORD, "/calibration?month=2026-10&months=3")
        greeting = page.locator('tr[data-rule-id="greeting"]')
        expect(greeting.locator('td[data-month="2026-10"] .precision')).to_have_text("50%")
        screenshot(page, "admin-calibration.png")

        greeting.locator("a.check-link").click()
        page.wait_for_url("**/calibration/greeting?*")
        row = page.locator("#overturned tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td.comment")).to_contain_text(COMMENT)
        expect(row).to_contain_text("monitor1")
        screenshot(page, "admin-calibration-check.png")

        page.goto(base + "/audit")
        page.fill("#audit-filters input[name=action]", "login")
        with page.expect_navigation():
            page.click("#audit-filters button[type=submit]")
        actions = page.locator("#audit tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")
        assert actions == ["login", "login.failed"], actions  # the admin's own login, monitor1's failed one
        screenshot(page, "admin-audit-logins.png")

        page.goto(base + "/jobs")
        expect(page.locator("#runs tbody tr")).to_have_count(2)
        expect(page.locator("#runs tbody tr").first).to_contain_text("运行中 running")
        failed = page.locator('#failed-calls tr[data-call-id="C03"]')
        expect(failed).to_contain_text("CUDA out of memory")
        failed.locator("input[type=checkbox]").check()
        with page.expect_navigation():
            page.click("#retry-form button[type=submit]")
        expect(page.locator(".done")).to_contain_text("marked 1 call")
        expect(page.locator('#failed-calls tr[data-call-id="C03"] .retry-mark')).to_contain_text("待重试")
        screenshot(page, "admin-jobs.png")
        assert not errors, errors
    finally:
        context.close()
