"""Observations in the review workflow: the findings of a check that deducts nothing (the default
rulebook's dead_air, `deduction: 0`) are stored `noted`, shown with the call and exported, but
cost nothing, are no violation for `qcpipe eval`, and put no call in the monitors' queue. On
each backend.

    call  findings (default rulebook)
    O01   dead_air (a 12 s pause, noted) only: a clean call with an observation
    O02   dead_air (noted) and forbidden_phrase −20 (open)
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qcpipe.accounts.roles import Viewer
from qcpipe.calls import call_detail, finding_records
from qcpipe.config import PrivacySettings
from qcpipe.review import calibration, flagged_calls
from qcpipe.review.worklist import ReviewState, WorklistFilters, worklist
from qcpipe.scoring import parse_rulebook, score_call
from qcpipe.scoring.records import call_input, save_score
from qcpipe.store import Call, FindingStatus
from qcpipe.store import repository as repo
from qcpipe.store.models import UserRole
from tests.helpers.paths import REPO
from tests.helpers.rows import seed_call

SHOWN = PrivacySettings()
MONITOR = Viewer("monitor1", UserRole.MONITOR)
GREETING = "您好，欢迎致电畅联通信，请问有什么可以帮您？"
CLOSING = "感谢您的来电，祝您生活愉快，再见"


def dialogue(answer: str) -> list[list]:
    """A call with an unannounced 11.2 s pause (12 s with the VAD padding): dead air, not yet the
    15 s that hold_notice charges."""
    return [["agent", 0, 4, GREETING], ["customer", 4.5, 7, "我想查一下这个月的账单"],
            ["agent", 7.5, 10, "好的，我帮您查一下"], ["agent", 21.2, 25, answer],
            ["customer", 25.5, 27, "好的谢谢"], ["agent", 27.5, 31, CLOSING]]


CALLS = {"O01": dialogue("查到了，本月费用已经结清"), "O02": dialogue("这不关我的事，你自己去营业厅问吧")}


@pytest.fixture
def seeded(db, rulebook):
    with db.transaction() as session:
        for call_id, turns in CALLS.items():
            seed_call(session, turns, call_id=call_id, agent="A03", team="一组", started_at="2026-10-08",
                      rulebook=rulebook)
    return db


def _call(session, call_id: str) -> Call:
    return session.scalars(select(Call).where(Call.call_id == call_id)).one()


def test_an_observation_is_stored_noted_and_costs_nothing(seeded) -> None:
    with seeded.session() as session:
        clean, rude = _call(session, "O01"), _call(session, "O02")
        assert [(f.rule_id, f.status, f.deduction) for f in clean.findings] == [("dead_air", FindingStatus.NOTED, 0)]
        assert clean.qa_score == 100
        assert sorted((f.rule_id, f.status) for f in rude.findings) == [
            ("dead_air", FindingStatus.NOTED), ("forbidden_phrase", FindingStatus.OPEN)]
        assert rude.qa_score == 80
        # What `qcpipe eval` compares with the labels: observations are no violation.
        violations = repo.violations_by_call(session)
        assert (violations["O01"], violations["O02"]) == (set(), {"forbidden_phrase"})


def test_observations_put_no_call_in_the_monitors_queue(seeded) -> None:
    with seeded.session() as session:
        assert [c.call_id for c in flagged_calls(session, SHOWN)] == ["O02"]
        (queued,) = flagged_calls(session, SHOWN)
        assert [f.rule_id for f in queued.findings] == ["forbidden_phrase"]

        def listed(state: ReviewState) -> list[str]:
            page = worklist(session, MONITOR, WorklistFilters(state=state), timezone="Asia/Shanghai")
            return sorted(row.call_id for row in page.rows)

        assert listed(ReviewState.OPEN) == ["O02"]
        assert listed(ReviewState.CLEAN) == ["O01"]  # nothing deducts, nothing to review
        assert listed(ReviewState.REVIEWED) == []
        assert listed(ReviewState.ANY) == ["O01", "O02"]
        by_rule = worklist(session, MONITOR, WorklistFilters(state=ReviewState.ANY, rule="dead_air"),
                           timezone="Asia/Shanghai")
        assert by_rule.rows == ()
        assert [c.rule_id for c in calibration(session)] == ["forbidden_phrase"]


def test_the_call_page_and_the_export_show_an_observation_as_such(seeded) -> None:
    with seeded.session() as session:
        detail = call_detail(session, "O01", SHOWN)
        exported = [r.as_dict() for r in finding_records(session, SHOWN) if r.call_id == "O01"]
    (item,) = detail.findings
    finding = item.finding
    assert (finding.status, finding.observation, finding.deducts, finding.undecided) == ("noted", True, False, False)
    assert finding.match_kind == "measured" and "12.0 s with neither party speaking" in finding.note
    assert (finding.start, finding.end) == (10.0, 21.2)
    (record,) = exported
    assert (record["rule_id"], record["status"], record["deduction"], record["deducts"]) == ("dead_air", "noted", 0, False)


def test_a_check_given_a_deduction_turns_its_observations_into_open_findings(seeded, rulebook) -> None:
    text = (REPO / "configs" / "rules" / "default.yaml").read_text(encoding="utf-8")
    anchor = "kind: dead_air\n    severity: minor\n"
    start = text.index(anchor) + len(anchor)
    charging = parse_rulebook(text[:start] + text[start:].replace("deduction: 0", "deduction: 2", 1))
    assert charging.rule("dead_air").deduction == 2
    with seeded.transaction() as session:
        call = _call(session, "O01")
        save_score(session, call, score_call(call_input(call), charging))
        assert [(f.rule_id, f.status) for f in call.findings] == [("dead_air", FindingStatus.OPEN)]
        assert call.qa_score == 98
        save_score(session, call, score_call(call_input(call), rulebook))  # and back
        assert [(f.rule_id, f.status) for f in call.findings] == [("dead_air", FindingStatus.NOTED)]
        assert call.qa_score == 100
