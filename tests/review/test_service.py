"""Reviews, appeals and calibration on the real pipeline output of the dev corpus."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from qcpipe.errors import NotFoundError
from qcpipe.review import (
    ReviewError,
    calibration,
    decide_appeal,
    file_appeal,
    finding_history,
    flagged_calls,
    review_finding,
)
from qcpipe.store import Call, FindingRecord
from qcpipe.store.models import utcnow

pytestmark = pytest.mark.asr


def _call_with_findings(session, count: int = 2) -> Call:
    """A dev call with at least `count` findings and no veto."""
    for call in session.scalars(select(Call).order_by(Call.call_id)):
        if len(call.findings) >= count and not any(f.veto for f in call.findings):
            return call
    raise AssertionError("the dev corpus has calls with several findings")


def test_review_and_re_review_change_the_score(dev_db_copy) -> None:
    with dev_db_copy.transaction() as session:
        call = _call_with_findings(session)
        first, second = call.findings[:2]
        machine_score = call.qa_score
        assert machine_score == max(0, 100 - sum(f.deduction for f in call.findings))
        review_finding(session, first.id, confirm=False, reviewer="李质检", comment="ASR 听错", now=utcnow())
        assert call.qa_score == machine_score + first.deduction  # overturned: no longer deducts
        review_finding(session, first.id, confirm=True, reviewer="王主管", comment="复核：扣分成立", now=utcnow())
        assert call.qa_score == machine_score
        review_finding(session, second.id, confirm=False, reviewer="李质检", now=utcnow())
        assert call.qa_score == machine_score + second.deduction
        _view, history = finding_history(session, first.id)
        assert [(h.what, h.who) for h in history] == [("overturn", "李质检"), ("confirm", "王主管")]  # never overwritten


def test_appeal_window_final_ruling_and_who_may_appeal(dev_db_copy) -> None:
    with dev_db_copy.transaction() as session:
        call = _call_with_findings(session)
        finding, other = call.findings[:2]
        agent = call.agent.code
        with pytest.raises(ReviewError, match="not A99"):
            file_appeal(session, finding.id, agent="A99", reason="不是我", window_days=7, now=utcnow())
        late = finding.created_at + timedelta(days=7, minutes=1)
        with pytest.raises(ReviewError, match="appeal window .* closed"):
            file_appeal(session, finding.id, agent=agent, reason="录音有误", window_days=7, now=late)
        appeal = file_appeal(session, finding.id, agent=agent, reason="录音有误", window_days=7, now=utcnow())
        with pytest.raises(ReviewError, match="pending appeal"):
            review_finding(session, finding.id, confirm=True, reviewer="李质检", now=utcnow())
        before = call.qa_score
        decide_appeal(session, appeal.id, uphold=True, by="李质检", comment="确认为识别错误", now=utcnow())
        assert finding.status == "overturned" and call.qa_score == before + finding.deduction
        with pytest.raises(ReviewError, match="final"):
            decide_appeal(session, appeal.id, uphold=False, by="王主管", now=utcnow())
        with pytest.raises(ReviewError, match="final"):
            review_finding(session, finding.id, confirm=True, reviewer="王主管", now=utcnow())
        with pytest.raises(ReviewError, match="already overturned"):
            file_appeal(session, finding.id, agent=agent, reason="again", window_days=7, now=utcnow())
        rejected = file_appeal(session, other.id, agent=agent, reason="我说了您好", window_days=7, now=utcnow())
        decide_appeal(session, rejected.id, uphold=False, by="李质检", now=utcnow())
        assert other.status == "confirmed"
    with pytest.raises(NotFoundError):
        with dev_db_copy.transaction() as session:
            review_finding(session, 10**6, confirm=True, reviewer="x", now=utcnow())


def test_flagged_is_worst_first_and_filters(dev_db_copy) -> None:
    with dev_db_copy.session() as session:
        flagged = flagged_calls(session)
        scores = [c.score for c in flagged]
        assert scores == sorted(scores) and flagged
        assert all(f.status == "open" for c in flagged for f in c.findings)
        forbidden = flagged_calls(session, rule="forbidden_phrase")
        assert forbidden and all(any(f.rule_id == "forbidden_phrase" for f in c.findings) for c in forbidden)
        a03 = flagged_calls(session, agent="A03")
        assert a03 and {c.agent_id for c in a03} == {"A03"}
        team = flagged_calls(session, team="一组")
        assert team and {c.team for c in team} == {"一组"}


def test_overturned_calls_leave_the_queue(dev_db_copy) -> None:
    with dev_db_copy.transaction() as session:
        call = flagged_calls(session)[-1]
        for finding in call.findings:
            review_finding(session, finding.id, confirm=False, reviewer="李质检", now=utcnow())
    with dev_db_copy.session() as session:
        assert call.call_id not in {c.call_id for c in flagged_calls(session)}


def test_calibration_counts_decisions_per_check(dev_db_copy) -> None:
    with dev_db_copy.transaction() as session:
        greetings = session.scalars(select(FindingRecord).where(FindingRecord.rule_id == "greeting")).all()
        assert len(greetings) >= 4
        for finding in greetings[:3]:
            review_finding(session, finding.id, confirm=True, reviewer="李质检", now=utcnow())
        review_finding(session, greetings[3].id, confirm=False, reviewer="李质检", now=utcnow())
        rows = {row.rule_id: row for row in calibration(session)}
    assert rows["greeting"].reviewed == 4 and rows["greeting"].confirmed == 3
    assert rows["greeting"].precision == pytest.approx(0.75)
    assert rows["closing"].reviewed == 0 and rows["closing"].precision is None
    with dev_db_copy.session() as session:
        october = {row.rule_id: row for row in calibration(session, month="2026-10")}
    assert sum(r.findings for r in october.values()) < sum(r.findings for r in rows.values())
