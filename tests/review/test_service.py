"""Reviews, appeals and calibration on scripted calls scored by the default rulebook (no ASR).

The seeded center (scores from the real rulebook; 一组 is agent A03's team, 二组 A07's):

    call  agent  started (Shanghai)  findings                               score
    C01   A03    2026-10-08          greeting (quote holds a phone number),  75
                                     forbidden_phrase 这不关我的事
    C02   A07    2026-10-09          greeting, closing                       90
    C03   A03    2026-10-10          none                                    100
    C04   A07    2026-09-20          greeting                                95
    C05   A03    2026-10-12          forbidden_phrase 我都忙死了             80
    C06   A07    2026-10-15          greeting, closing, forbidden 我也没办法   70
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from qcpipe.config import PrivacySettings
from qcpipe.errors import NotFoundError
from qcpipe.periods import month_period
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
from tests.helpers.rows import seed_call

SHOWN = PrivacySettings()  # numbers masked, as shipped
PHONE = "13812345678"
GREETING = "您好，欢迎致电畅联通信，请问有什么可以帮您？"
CLOSING = "感谢您的来电，祝您生活愉快，再见"
VISIT = "师傅明天上午上门检修"


def dialogue(first: str, answer: str, last: str) -> list[list]:
    """The agent's first line, answer to a broken line, and last line."""
    return [["agent", 0, 4, first], ["customer", 4.5, 7, "我家宽带又断了，一直上不了网"], ["agent", 7.5, 11, answer],
            ["customer", 11.5, 13, "好吧"], ["agent", 13.5, 17, last]]


CALLS = {  # call id: (agent, started, dialogue)
    "C01": ("A03", "2026-10-08", dialogue(f"这不关我的事，你打{PHONE}问吧", VISIT, CLOSING)),
    "C02": ("A07", "2026-10-09", dialogue("喂", VISIT, "好的")),
    "C03": ("A03", "2026-10-10", dialogue(GREETING, VISIT, CLOSING)),
    "C04": ("A07", "2026-09-20", dialogue("喂", VISIT, CLOSING)),
    "C05": ("A03", "2026-10-12", dialogue(GREETING, "我都忙死了，师傅明天上门", CLOSING)),
    "C06": ("A07", "2026-10-15", dialogue("喂", "我也没办法，等师傅明天上门", "就这样")),
}
TEAMS = {"A03": "一组", "A07": "二组"}


@pytest.fixture
def seeded(db, rulebook):
    with db.transaction() as session:
        for call_id, (agent, started, turns) in CALLS.items():
            seed_call(session, turns, call_id=call_id, agent=agent, team=TEAMS[agent], started_at=started, rulebook=rulebook)
    return db


def _call(session, call_id: str) -> Call:
    return session.scalars(select(Call).where(Call.call_id == call_id)).one()


def _finding(call: Call, rule_id: str) -> FindingRecord:
    return next(f for f in call.findings if f.rule_id == rule_id)


def test_seeded_calls_carry_the_rulebooks_findings(seeded) -> None:
    with seeded.session() as session:
        found = {c.call_id: (c.qa_score, sorted(f.rule_id for f in c.findings)) for c in session.scalars(select(Call))}
        c01 = _call(session, "C01")
        assert (c01.agent.code, c01.agent.team.name) == ("A03", "一组")
        first = c01.segments[0]
        assert first.text == f"这不关我的事，你打{PHONE}问吧" and "".join(w[0] for w in first.words) == first.text
        assert [r.role for r in c01.speech] == ["agent", "customer", "agent", "customer", "agent"]
    assert found == {
        "C01": (75, ["forbidden_phrase", "greeting"]), "C02": (90, ["closing", "greeting"]), "C03": (100, []),
        "C04": (95, ["greeting"]), "C05": (80, ["forbidden_phrase"]),
        "C06": (70, ["closing", "forbidden_phrase", "greeting"]),
    }


def test_review_and_re_review_change_the_score(seeded) -> None:
    with seeded.transaction() as session:
        call = _call(session, "C02")
        first, second = _finding(call, "greeting"), _finding(call, "closing")
        machine_score = call.qa_score
        assert machine_score == max(0, 100 - sum(f.deduction for f in call.findings)) == 90
        review_finding(session, first.id, confirm=False, reviewer="李质检", comment="ASR 听错", now=utcnow())
        assert call.qa_score == machine_score + first.deduction  # overturned: no longer deducts
        review_finding(session, first.id, confirm=True, reviewer="王主管", comment="复核：扣分成立", now=utcnow())
        assert call.qa_score == machine_score
        review_finding(session, second.id, confirm=False, reviewer="李质检", now=utcnow())
        assert call.qa_score == machine_score + second.deduction
        _view, history = finding_history(session, first.id, SHOWN)
        assert [(h.what, h.who) for h in history] == [("overturn", "李质检"), ("confirm", "王主管")]  # never overwritten
        assert [h.comment for h in history] == ["ASR 听错", "复核：扣分成立"]


def test_appeal_window_final_ruling_and_who_may_appeal(seeded) -> None:
    with seeded.transaction() as session:
        call = _call(session, "C02")
        finding, other = _finding(call, "greeting"), _finding(call, "closing")
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
        _view, history = finding_history(session, finding.id, SHOWN)
        assert [h.what for h in history] == [f"appeal {appeal.id} filed", "overturn (appeal ruling)"]
    with pytest.raises(NotFoundError):
        with seeded.transaction() as session:
            review_finding(session, 10**6, confirm=True, reviewer="x", now=utcnow())


def test_flagged_is_worst_first_and_filters(seeded) -> None:
    with seeded.session() as session:
        def flagged(**filters) -> list[str]:
            return [c.call_id for c in flagged_calls(session, SHOWN, **filters)]

        queue = flagged_calls(session, SHOWN)
        assert [(c.call_id, c.score) for c in queue] == [("C06", 70), ("C01", 75), ("C05", 80), ("C02", 90), ("C04", 95)]
        assert all(f.status == "open" for c in queue for f in c.findings)
        assert (queue[1].agent_id, queue[1].team) == ("A03", "一组")
        assert flagged(rule="forbidden_phrase") == ["C06", "C01", "C05"]
        assert flagged(agent="A03") == ["C01", "C05"]
        assert flagged(team="一组") == ["C01", "C05"] and flagged(team="二组") == ["C06", "C02", "C04"]
        assert flagged(team="一组", rule="greeting") == ["C01"]
        assert flagged(period=month_period("2026-09", "Asia/Shanghai")) == ["C04"]
        assert flagged(agent="A99") == [] and flagged(rule="hold_notice") == []


def test_reviewed_findings_leave_the_call_in_the_queue_without_them(seeded) -> None:
    with seeded.transaction() as session:
        review_finding(session, _finding(_call(session, "C06"), "closing").id, confirm=True, reviewer="李质检", now=utcnow())
    with seeded.session() as session:
        c06 = next(c for c in flagged_calls(session, SHOWN) if c.call_id == "C06")
    assert sorted(f.rule_id for f in c06.findings) == ["forbidden_phrase", "greeting"]


def test_overturned_calls_leave_the_queue(seeded) -> None:
    with seeded.transaction() as session:
        call = flagged_calls(session, SHOWN)[-1]
        for finding in call.findings:
            review_finding(session, finding.id, confirm=False, reviewer="李质检", now=utcnow())
    with seeded.session() as session:
        assert call.call_id not in {c.call_id for c in flagged_calls(session, SHOWN)}
        assert _call(session, call.call_id).qa_score == 100


def test_calibration_counts_decisions_per_check(seeded) -> None:
    with seeded.transaction() as session:
        greetings = session.scalars(select(FindingRecord).where(FindingRecord.rule_id == "greeting")).all()
        assert len(greetings) == 4
        for finding in greetings[:3]:
            review_finding(session, finding.id, confirm=True, reviewer="李质检", now=utcnow())
        review_finding(session, greetings[3].id, confirm=False, reviewer="李质检", now=utcnow())
        rows = {row.rule_id: row for row in calibration(session)}
    assert rows["greeting"].reviewed == 4 and rows["greeting"].confirmed == 3 and rows["greeting"].overturned == 1
    assert rows["greeting"].precision == pytest.approx(0.75)
    assert rows["closing"].reviewed == 0 and rows["closing"].precision is None
    with seeded.session() as session:
        october = {row.rule_id: row for row in calibration(session, month="2026-10")}
    assert sum(r.findings for r in october.values()) < sum(r.findings for r in rows.values())
    assert (rows["greeting"].findings, october["greeting"].findings) == (4, 3)  # C04 is a September call


def test_quotes_are_masked_as_the_privacy_settings_say(seeded) -> None:
    heard = f"这不关我的事，你打{PHONE}问吧"
    masked = "这不关我的事，你打***********问吧"
    shown_phone = PrivacySettings(mask_phone=False)
    with seeded.session() as session:
        def greeting_quote(privacy: PrivacySettings) -> str:
            (call,) = flagged_calls(session, privacy, agent="A03", rule="greeting")
            return next(f.quote for f in call.findings if f.rule_id == "greeting")

        finding_id = _finding(_call(session, "C01"), "greeting").id
        assert greeting_quote(SHOWN) == masked
        assert greeting_quote(shown_phone) == heard
        assert finding_history(session, finding_id, SHOWN)[0].quote == masked
        assert finding_history(session, finding_id, shown_phone)[0].quote == heard
        assert _finding(_call(session, "C01"), "greeting").quote == heard  # stored as heard; masked when shown
