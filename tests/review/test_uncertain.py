"""Uncertain findings in the review workflow: a missing phrase whose window was heard too poorly
to be sure. It waits for a monitor like an open finding but deducts nothing until confirmed;
overturned it never deducts; agents have nothing to appeal. On each backend.

    call  agent  findings (default rulebook)            made uncertain here
    U01   A03    greeting −5, closing −5 (score 90)     greeting → score 95
    U02   A07    greeting −5 (score 95)                 greeting → score 100 (nothing deducts)
    U03   A03    forbidden_phrase −20 (score 80)        none: an open finding only
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from qcpipe.accounts.roles import Viewer
from qcpipe.config import PrivacySettings
from qcpipe.review import DecisionConflict, ReviewError, calibration, file_appeal, flagged_calls, review_finding
from qcpipe.review.worklist import ReviewState, WorklistFilters, worklist
from qcpipe.scoring.records import update_call_score
from qcpipe.store import Call, FindingRecord, FindingStatus
from qcpipe.store.models import AuditEvent, FindingReview, UserRole, utcnow
from tests.helpers.rows import seed_call

SHOWN = PrivacySettings()
GREETING = "您好，欢迎致电畅联通信，请问有什么可以帮您？"
CLOSING = "感谢您的来电，祝您生活愉快，再见"
DOUBT = "the window was heard with low confidence (mean word probability 0.42)"
MONITOR = Viewer("monitor1", UserRole.MONITOR)


def dialogue(first: str, answer: str, last: str) -> list[list]:
    return [["agent", 0, 4, first], ["customer", 4.5, 7, "我家宽带又断了，一直上不了网"], ["agent", 7.5, 11, answer],
            ["customer", 11.5, 13, "好吧"], ["agent", 13.5, 17, last]]


CALLS = {  # call id: (agent, team, dialogue)
    "U01": ("A03", "一组", dialogue("喂", "师傅明天上午上门检修", "好的")),
    "U02": ("A07", "二组", dialogue("喂", "师傅明天上午上门检修", CLOSING)),
    "U03": ("A03", "一组", dialogue(GREETING, "我都忙死了，师傅明天上门", CLOSING)),
}


def make_uncertain(finding: FindingRecord, doubt: str = DOUBT) -> None:
    """What scoring stores for a missing phrase heard poorly: status uncertain, with the doubt."""
    finding.status, finding.doubt = FindingStatus.UNCERTAIN, doubt
    update_call_score(finding.call)


@pytest.fixture
def seeded(db, rulebook):
    with db.transaction() as session:
        for call_id, (agent, team, turns) in CALLS.items():
            seed_call(session, turns, call_id=call_id, agent=agent, team=team, started_at="2026-10-08",
                      rulebook=rulebook)
        for call_id in ("U01", "U02"):
            make_uncertain(_finding(_call(session, call_id), "greeting"))
    return db


def _call(session, call_id: str) -> Call:
    return session.scalars(select(Call).where(Call.call_id == call_id)).one()


def _finding(call: Call, rule_id: str) -> FindingRecord:
    return next(f for f in call.findings if f.rule_id == rule_id)


def test_an_uncertain_finding_deducts_nothing(seeded) -> None:
    with seeded.session() as session:
        u01, u02 = _call(session, "U01"), _call(session, "U02")
        assert {f.rule_id: f.status for f in u01.findings} == {"greeting": "uncertain", "closing": "open"}
        assert _finding(u01, "greeting").doubt == DOUBT
        assert u01.qa_score == 100 - _finding(u01, "closing").deduction == 95
        assert u02.qa_score == 100  # its only finding is uncertain


def test_confirming_an_uncertain_finding_makes_it_deduct(seeded) -> None:
    with seeded.transaction() as session:
        call = _call(session, "U01")
        finding = _finding(call, "greeting")
        version = finding.version
        review_finding(session, finding.id, confirm=True, reviewer="李质检", comment="听了录音，确实没有问候",
                       now=utcnow(), seen_version=version)
        assert finding.status == FindingStatus.CONFIRMED and finding.version == version + 1
        assert call.qa_score == 90  # both findings deduct now
        finding_id = finding.id
    with seeded.session() as session:
        assert _call(session, "U01").qa_score == 90
        reviews = session.scalars(select(FindingReview).where(FindingReview.finding_id == finding_id)).all()
        assert [(r.decision, r.reviewer) for r in reviews] == [("confirm", "李质检")]
        events = session.scalars(select(AuditEvent).where(AuditEvent.object_id == str(finding_id))).all()
        assert [(e.actor, e.action) for e in events] == [("李质检", "finding.confirm")]


def test_overturning_an_uncertain_finding_leaves_it_deducting_nothing(seeded) -> None:
    with seeded.transaction() as session:
        call = _call(session, "U02")
        finding = _finding(call, "greeting")
        review_finding(session, finding.id, confirm=False, reviewer="李质检", comment="录音里说了您好", now=utcnow())
        assert finding.status == FindingStatus.OVERTURNED and call.qa_score == 100
        # A later re-review confirming it counts, as for any finding.
        review_finding(session, finding.id, confirm=True, reviewer="王主管", now=utcnow())
        assert call.qa_score == 100 - finding.deduction


def test_a_decision_on_a_stale_page_is_refused(seeded) -> None:
    with seeded.transaction() as session:
        finding = _finding(_call(session, "U01"), "greeting")
        seen = finding.version
        review_finding(session, finding.id, confirm=False, reviewer="monitor2", now=utcnow(), seen_version=seen)
        with pytest.raises(DecisionConflict, match="already decided"):
            review_finding(session, finding.id, confirm=True, reviewer="monitor1", now=utcnow(), seen_version=seen)


def test_an_agent_cannot_appeal_an_uncertain_finding(seeded) -> None:
    with seeded.transaction() as session:
        finding = _finding(_call(session, "U01"), "greeting")
        with pytest.raises(ReviewError, match=r"uncertain \(the window was heard with low confidence.*nothing to appeal"):
            file_appeal(session, finding.id, agent="A03", reason="我说了您好", window_days=7, now=utcnow())
        assert finding.appeals == []


def test_the_appeal_window_of_a_confirmed_uncertain_finding_runs_from_the_confirmation(seeded) -> None:
    with seeded.transaction() as session:
        finding = _finding(_call(session, "U01"), "greeting")
        confirmed_at = finding.created_at + timedelta(days=10)  # long after the 7-day window from raising it
        review_finding(session, finding.id, confirm=True, reviewer="李质检", now=confirmed_at)
        appeal = file_appeal(session, finding.id, agent="A03", reason="客户那边有杂音，我说了",
                             window_days=7, now=confirmed_at + timedelta(days=6))
        assert appeal.status == "pending"
        other = _finding(_call(session, "U01"), "closing")  # open from the start: window from when raised
        with pytest.raises(ReviewError, match=r"closed on .* \(7 days after it was raised\)"):
            file_appeal(session, other.id, agent="A03", reason="x", window_days=7,
                        now=other.created_at + timedelta(days=8))
    with seeded.transaction() as session:
        finding = _finding(_call(session, "U02"), "greeting")
        confirmed_at = finding.created_at + timedelta(days=1)
        review_finding(session, finding.id, confirm=True, reviewer="李质检", now=confirmed_at)
        with pytest.raises(ReviewError, match=r"\(7 days after a monitor confirmed it\)"):
            file_appeal(session, finding.id, agent="A07", reason="x", window_days=7,
                        now=confirmed_at + timedelta(days=7, minutes=1))


def test_flagged_calls_include_uncertain_ones_marked_and_can_be_narrowed_to_them(seeded) -> None:
    with seeded.session() as session:
        queue = flagged_calls(session, SHOWN)
        assert [(c.call_id, c.score, c.uncertain) for c in queue] == [("U03", 80, 0), ("U01", 95, 1), ("U02", 100, 1)]
        u01 = next(c for c in queue if c.call_id == "U01")
        assert {(f.rule_id, f.status, f.doubt, f.deducts) for f in u01.findings} == {
            ("greeting", "uncertain", DOUBT, False), ("closing", "open", None, True)}
        only = flagged_calls(session, SHOWN, uncertain_only=True)
        assert [c.call_id for c in only] == ["U01", "U02"]
        assert all(f.uncertain for c in only for f in c.findings)
        assert [c.call_id for c in flagged_calls(session, SHOWN, uncertain_only=True, agent="A07")] == ["U02"]


def test_the_worklist_lists_uncertain_calls_and_filters_to_exactly_them(seeded) -> None:
    with seeded.session() as session:
        def listing(state: ReviewState, **filters):
            return worklist(session, MONITOR, WorklistFilters(state=state, **filters), timezone="Asia/Shanghai")

        flagged = listing(ReviewState.OPEN)
        assert [(r.call_id, r.open_findings, r.uncertain_findings) for r in flagged.rows] == [
            ("U03", 1, 0), ("U01", 1, 1), ("U02", 0, 1)]
        assert (flagged.total, flagged.open_findings, flagged.uncertain_findings) == (3, 2, 2)
        uncertain = listing(ReviewState.UNCERTAIN)
        assert [r.call_id for r in uncertain.rows] == ["U01", "U02"]
        assert (uncertain.total, uncertain.open_findings, uncertain.uncertain_findings) == (2, 1, 2)
        assert [r.call_id for r in listing(ReviewState.UNCERTAIN, agent="A03").rows] == ["U01"]
        assert listing(ReviewState.UNCERTAIN, rule="closing").rows == ()
        assert listing(ReviewState.REVIEWED).rows == ()  # an uncertain finding is not yet reviewed
    with seeded.transaction() as session:
        review_finding(session, _finding(_call(session, "U02"), "greeting").id, confirm=False, reviewer="李质检",
                       now=utcnow())
    with seeded.session() as session:
        assert [r.call_id for r in listing(ReviewState.UNCERTAIN).rows] == ["U01"]
        assert [r.call_id for r in listing(ReviewState.REVIEWED).rows] == ["U02"]
        assert "U02" not in {r.call_id for r in listing(ReviewState.OPEN).rows}


def test_calibration_counts_uncertain_findings_as_raised_not_reviewed(seeded) -> None:
    with seeded.session() as session:
        greeting = {row.rule_id: row for row in calibration(session)}["greeting"]
    assert (greeting.findings, greeting.uncertain, greeting.reviewed, greeting.precision) == (2, 2, 0, None)
