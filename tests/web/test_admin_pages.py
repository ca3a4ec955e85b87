"""The QA lead's and admin's pages on the seeded center: calibration, the audit log (and its CSV),
the nightly job's runs and failed calls, and marking failed calls for retry."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from qcpipe.accounts.roles import Viewer
from qcpipe.review import decide_appeal, file_appeal, review_as
from qcpipe.store.models import AuditEvent, BatchRun, BatchRunStatus, CallStatus, UserRole, utcnow
from tests.helpers.web import finding_of, log_in, stored_call

MONITOR = Viewer("monitor1", UserRole.MONITOR)
COMMENT = "客户先开口，坐席随后问候了"


@pytest.fixture
def reviewed(center):
    """Greeting: C01 confirmed, C02 overturned with a comment; forbidden: C05 overturned by an upheld appeal."""
    now = utcnow()
    with center.transaction() as session:
        review_as(session, MONITOR, finding_of(session, "C01", "greeting").id, confirm=True, comment="", now=now)
        review_as(session, MONITOR, finding_of(session, "C02", "greeting").id, confirm=False, comment=COMMENT, now=now)
        appeal = file_appeal(session, finding_of(session, "C05", "forbidden_phrase").id, agent="A03", reason="不是禁语",
                             window_days=30, now=now)
        decide_appeal(session, appeal.id, uphold=True, by="monitor2", comment="申诉成立", now=now)
    return center


@pytest.fixture
def nightly(center):
    """Two runs (one finished, one killed long ago) and C03 failed."""
    now = utcnow()
    with center.transaction() as session:
        session.add_all([
            BatchRun(source="/recordings/2026-11-24", host="asr-1", started_at=now - timedelta(hours=30),
                     finished_at=now - timedelta(hours=29), status=BatchRunStatus.FINISHED, calls_done=120,
                     calls_skipped=3, calls_failed=1, audio_s=36000.0, wall_s=3600.0),
            BatchRun(source="/recordings/2026-11-25", host="asr-1", started_at=now - timedelta(hours=6), wall_s=60.0),
        ])
        call = stored_call(session, "C03")
        call.status, call.error = CallStatus.FAILED, "C03.wav: not a readable audio file (Format not recognised)"
    return center


def test_calibration_shows_precision_per_check_and_month(browser, reviewed) -> None:
    page = browser("lead").get("/calibration?month=2026-10&months=2")
    assert page.status_code == 200
    html = page.text
    row = re.search(r'<tr data-rule-id="greeting">(.*?)</tr>', html, re.S).group(1)
    october = re.search(r'data-month="2026-10">(.*?)</td>', row, re.S).group(1)
    assert "50%" in october and "✓1" in october and "✗1" in october and "?1" in october
    assert 'href="/calibration/greeting?month=2026-10&amp;months=1"' in october
    september = re.search(r'data-month="2026-09">(.*?)</td>', row, re.S).group(1)
    assert "—" in september and "?1" in september  # C04, not reviewed
    forbidden = re.search(r'<tr data-rule-id="forbidden_phrase">(.*?)</tr>', html, re.S).group(1)
    assert "✗1" in forbidden  # the upheld appeal


def test_calibration_of_a_check_lists_the_overturned_with_comments(browser, reviewed) -> None:
    html = browser("admin").get("/calibration/greeting?month=2026-10").text
    rows = re.findall(r'<tr data-finding-id="\d+">(.*?)</tr>', html, re.S)
    assert len(rows) == 1
    assert 'href="/calls/C02#finding-' in rows[0] and COMMENT in rows[0] and "monitor1" in rows[0] and "A07" in rows[0]
    appeal = browser("lead").get("/calibration/forbidden_phrase?month=2026-10").text
    assert "申诉成立 appeal upheld" in appeal and "不是禁语" in appeal and "monitor2" in appeal


def test_a_bad_month_or_day_is_refused(browser) -> None:
    assert browser("lead").get("/calibration?month=October").status_code == 400
    assert browser("lead").get("/audit?date_from=1.11.2026").status_code == 400


def test_audit_page_filters_to_logins_newest_first(browser, client, center) -> None:
    log_in(client, "monitor1", "wrong-password")
    lead = browser("lead")
    html = lead.get("/audit?action=login").text
    actions = re.findall(r'<tr data-action="([^"]+)">', html)
    assert actions and set(actions) <= {"login", "login.failed", "login.refused"}
    assert actions[0] == "login" and "login.failed" in actions  # the lead's own login is the newest
    assert "monitor1" in html
    # The filter form sends its empty fields too.
    only_failed = lead.get("/audit?action=login.failed&actor=monitor1&object=&date_from=&date_to=").text
    assert re.findall(r'<tr data-action="([^"]+)">', only_failed) == ["login.failed"]


def test_audit_csv_streams_the_filtered_events_with_a_bom(browser, reviewed) -> None:
    response = browser("admin").get("/audit.csv?action=finding")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["at", "actor", "action"]
    assert sorted(r[2] for r in rows[1:]) == ["finding.confirm", "finding.overturn"]
    assert any(COMMENT in r[5] for r in rows[1:])


def test_jobs_page_shows_runs_and_failed_calls(browser, nightly) -> None:
    html = browser("lead").get("/jobs").text
    runs = re.findall(r'<tr data-run-id="\d+" class="run-(\w+)">', html)
    assert runs == ["silent", "finished"]  # newest first; the killed run is not shown as running
    assert "运行中或已中断" in html and "/recordings/2026-11-24" in html
    assert "10.0×" in html and "10.00 h" in html  # 36000 s of audio in 3600 s
    failed = re.search(r'<tr data-call-id="C03">(.*?)</tr>', html, re.S).group(1)
    assert "Format not recognised" in failed and "D110001.wav" in failed
    assert 'name="call_ids"' not in html  # the QA lead sees; only the admin may mark for retry


def test_admin_marks_a_failed_call_for_retry(browser, nightly) -> None:
    admin = browser("admin")
    assert 'name="call_ids" value="C03"' in admin.get("/jobs").text
    response = admin.form("/jobs/retry", {"call_ids": ["C03"]})
    assert response.status_code == 303 and response.headers["location"].startswith("/jobs?marked=1")
    with nightly.session() as session:
        call = stored_call(session, "C03")
        assert call.retry_requested_by == "admin" and call.retry_requested_at is not None
        assert session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "call.retry")).all() == ["admin"]
    assert "待重试 to retry" in admin.get("/jobs").text


def test_retry_is_refused_without_csrf_for_others_and_for_calls_not_failed(browser, nightly) -> None:
    admin = browser("admin")
    assert admin.client.post("/jobs/retry", data={"call_ids": ["C03"]}).status_code == 403
    assert browser("lead").form("/jobs/retry", {"call_ids": ["C03"]}).status_code == 403
    assert admin.form("/jobs/retry", {"call_ids": ["C01"]}).status_code == 400
    assert admin.form("/jobs/retry", {"call_ids": ["NOPE"]}).status_code == 404
    with nightly.session() as session:
        assert stored_call(session, "C03").retry_requested_at is None


@pytest.mark.parametrize("path", ["/calibration", "/calibration/greeting", "/audit", "/audit.csv", "/jobs"])
def test_monitors_and_agents_may_not_see_these_pages(browser, path) -> None:
    assert browser("monitor1").get(path).status_code == 403
    assert browser("agent03").get(path).status_code == 403
    assert browser("lead").get(path).status_code == 200
