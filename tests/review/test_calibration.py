"""Calibration per check and month on the seeded center (tests/helpers/web.py), after monitors
confirmed and overturned findings and an appeal was upheld. On each backend.

    decided here                                   greeting (Oct)   forbidden_phrase (Oct)
    C01 greeting confirmed, forbidden confirmed    ✓                ✓
    C02 greeting overturned "客户先开口"            ✗
    C05 forbidden appealed by A03, upheld                           ✗ (appeal upheld)
    C06 greeting, forbidden left open              ?                ?
    C04 (September) greeting left open             ? in September
"""

from __future__ import annotations

import pytest

from qcpipe.accounts.roles import Viewer
from qcpipe.config import PrivacySettings
from qcpipe.periods import DEFAULT_TIMEZONE
from qcpipe.review import decide_appeal, file_appeal, review_as
from qcpipe.review.precision import MonthCounts, months_ending, overturned_findings, precision_by_month
from qcpipe.store.models import UserRole, utcnow
from tests.helpers.web import finding_of, seed_center

MONITOR = Viewer("monitor1", UserRole.MONITOR)
TZ = DEFAULT_TIMEZONE


@pytest.fixture
def reviewed(db, rulebook):
    with db.transaction() as session:
        seed_center(session, rulebook)
    now = utcnow()
    with db.transaction() as session:
        review_as(session, MONITOR, finding_of(session, "C01", "greeting").id, confirm=True, comment="", now=now)
        review_as(session, MONITOR, finding_of(session, "C01", "forbidden_phrase").id, confirm=True, comment="",
                  now=now)
        review_as(session, MONITOR, finding_of(session, "C02", "greeting").id, confirm=False,
                  comment="客户先开口，坐席接着问候了", now=now)
        appeal = file_appeal(session, finding_of(session, "C05", "forbidden_phrase").id, agent="A03",
                             reason="我说的是“我都忙着帮您查”", window_days=30, now=now)
        decide_appeal(session, appeal.id, uphold=True, by="monitor2", comment="录音里是帮客户查，不是禁语", now=now)
    return db


def _check(table, rule_id):
    return next(c for c in table.checks if c.rule_id == rule_id)


def test_months_end_with_the_month_asked_for() -> None:
    assert months_ending("2026-02", 4) == ("2025-11", "2025-12", "2026-01", "2026-02")
    assert months_ending("2026-10", 1) == ("2026-10",)


def test_confirmed_overturned_and_unreviewed_per_check_and_month(reviewed) -> None:
    with reviewed.session() as session:
        table = precision_by_month(session, "2026-10", months=2, timezone=TZ)
    assert table.months == ("2026-09", "2026-10")
    greeting = _check(table, "greeting")
    assert greeting.months == (MonthCounts(0, 0, 1), MonthCounts(confirmed=1, overturned=1, unreviewed=1))
    assert greeting.latest.precision == pytest.approx(0.5)
    assert greeting.total == MonthCounts(1, 1, 2)
    forbidden = _check(table, "forbidden_phrase")  # the upheld appeal counts as overturned
    assert forbidden.latest == MonthCounts(confirmed=1, overturned=1, unreviewed=1)
    closing = _check(table, "closing")
    assert closing.latest.reviewed == 0 and closing.latest.precision is None and closing.latest.unreviewed == 2
    assert table.months[0] == "2026-09" and closing.months[0] == MonthCounts()
    # Checks the monitors disagree with most first; checks nobody reviewed last.
    order = [c.rule_id for c in table.checks]
    assert order.index("greeting") < order.index("closing")


def test_a_month_without_calls_counts_nothing(reviewed) -> None:
    with reviewed.session() as session:
        table = precision_by_month(session, "2026-08", months=1, timezone=TZ)
    assert table.checks == ()


def test_overturned_findings_carry_the_monitors_comments(reviewed) -> None:
    with reviewed.session() as session:
        greeting = overturned_findings(session, "greeting", "2026-10", timezone=TZ, privacy=PrivacySettings())
        forbidden = overturned_findings(session, "forbidden_phrase", "2026-10", timezone=TZ, privacy=PrivacySettings())
        september = overturned_findings(session, "greeting", "2026-09", timezone=TZ, privacy=PrivacySettings())
    assert [(o.call_id, o.agent_id, o.reviewer, o.comment) for o in greeting] == [
        ("C02", "A07", "monitor1", "客户先开口，坐席接着问候了")]
    assert greeting[0].appeal_reason is None and greeting[0].decided_at is not None
    [upheld] = forbidden
    assert (upheld.call_id, upheld.reviewer, upheld.comment) == ("C05", "monitor2", "录音里是帮客户查，不是禁语")
    assert upheld.appeal_reason == "我说的是“我都忙着帮您查”"
    assert "我都忙死了" in upheld.quote
    assert september == []


def test_a_finding_confirmed_after_being_overturned_counts_as_confirmed(reviewed) -> None:
    with reviewed.transaction() as session:
        review_as(session, Viewer("lead", UserRole.QA_LEAD), finding_of(session, "C02", "greeting").id, confirm=True,
                  comment="重听：没有问候", now=utcnow())
    with reviewed.session() as session:
        greeting = _check(precision_by_month(session, "2026-10", months=1, timezone=TZ), "greeting")
        assert greeting.latest == MonthCounts(confirmed=2, overturned=0, unreviewed=1)
        assert overturned_findings(session, "greeting", "2026-10", timezone=TZ, privacy=PrivacySettings()) == []
