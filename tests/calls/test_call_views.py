"""A call as people read it, with what ASR could not hear: an uncertain finding carries its status
and doubt, the call its unheard spans, and the findings export both; the call's figures (talk
time, silence, overlaps, agent speech rate) on the call and in both exports. On each backend."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qcpipe.calls import call_detail, finding_records, transcript_records
from qcpipe.calls.stats import STAT_COLUMNS
from qcpipe.config import PrivacySettings
from qcpipe.scoring.records import update_call_score
from qcpipe.store import Call, FindingStatus
from qcpipe.store.models import UnheardSpan
from tests.helpers.rows import seed_call

SHOWN = PrivacySettings()
DOUBT = "the window was heard with low confidence (mean word probability 0.42)"
TURNS = [["agent", 0, 4, "喂"], ["customer", 4.5, 7, "我家宽带又断了，一直上不了网"], ["agent", 7.5, 11, "师傅明天上午上门检修"],
         ["customer", 11.5, 13, "好吧"], ["agent", 13.5, 17, "感谢您的来电，祝您生活愉快，再见"]]


@pytest.fixture
def stored(db, rulebook):
    """V01: its greeting finding uncertain; agent speech unheard at 12.3–25.0 s and 30–31.5 s, the
    customer's at 5–6 s."""
    with db.transaction() as session:
        call = seed_call(session, TURNS, call_id="V01", agent="A03", team="一组", started_at="2026-10-08",
                         rulebook=rulebook)
        greeting = next(f for f in call.findings if f.rule_id == "greeting")
        greeting.status, greeting.doubt = FindingStatus.UNCERTAIN, DOUBT
        update_call_score(call)
        call.unheard = [UnheardSpan(channel=0, role="agent", start_s=12.3, end_s=25.0),
                        UnheardSpan(channel=1, role="customer", start_s=5.0, end_s=6.0),
                        UnheardSpan(channel=0, role="agent", start_s=30.0, end_s=31.5)]
    return db


def test_the_call_shows_its_uncertain_finding_and_unheard_speech(stored) -> None:
    with stored.session() as session:
        detail = call_detail(session, "V01", SHOWN)
    (item,) = detail.findings
    finding = item.finding
    assert (finding.status, finding.doubt, finding.uncertain, finding.deducts, finding.undecided) == (
        "uncertain", DOUBT, True, False, True)
    assert item.deducting_since is None  # nothing to appeal until confirmed
    assert detail.call.score == 100 and detail.uncertain_findings == 1
    assert [(s.role, s.start, s.end) for s in detail.unheard] == [
        ("customer", 5.0, 6.0), ("agent", 12.3, 25.0), ("agent", 30.0, 31.5)]
    assert detail.unheard_agent_s == pytest.approx(14.2)
    # The dialogue with the unheard spans in their places.
    timeline = [(kind, item.start) for kind, item in detail.timeline]
    assert timeline == [("utterance", 0.0), ("utterance", 4.5), ("unheard", 5.0), ("utterance", 7.5),
                        ("utterance", 11.5), ("unheard", 12.3), ("utterance", 13.5), ("unheard", 30.0)]


def test_the_findings_export_carries_status_and_doubt(stored) -> None:
    with stored.session() as session:
        (record,) = [r.as_dict() for r in finding_records(session, SHOWN)]
    assert (record["status"], record["doubt"], record["deducts"]) == ("uncertain", DOUBT, False)
    assert record["call_unheard_agent_s"] == pytest.approx(14.2) and record["call_score"] == 100


def test_a_confirmed_finding_exports_as_deducting(stored) -> None:
    with stored.transaction() as session:
        call = session.scalars(select(Call).where(Call.call_id == "V01")).one()
        call.findings[0].status = FindingStatus.CONFIRMED
        update_call_score(call)
    with stored.session() as session:
        (record,) = [r.as_dict() for r in finding_records(session, SHOWN)]
    assert (record["status"], record["doubt"], record["deducts"], record["call_score"]) == ("confirmed", DOUBT, True, 95)


def test_the_call_and_both_exports_carry_the_calls_figures(stored) -> None:
    with stored.session() as session:
        detail = call_detail(session, "V01", SHOWN)
        findings = [r.as_dict() for r in finding_records(session, SHOWN)]
        transcript = [r.as_dict() for r in transcript_records(session, SHOWN)]
    stats = detail.stats
    # The seeded turns are the timeline, read as padded by 0.4 s a side (the stored ASR settings).
    assert (stats.agent_talk_s, stats.customer_talk_s) == (8.6, 2.4)
    assert (stats.silence_s, stats.longest_silence_s, stats.overlaps, stats.overlap_s) == (5.2, 1.3, 0, 0.0)
    assert stats.agent_chars_per_min == round((10 + 14) / (3.5 + 3.5) * 60, 1)  # 喂 is too short to time
    expected = {column: getattr(stats, column.removeprefix("call_")) for column in STAT_COLUMNS}
    for record in findings + transcript:
        assert {column: record[column] for column in STAT_COLUMNS} == expected
    assert len(transcript) == len(TURNS)


def test_a_call_without_a_timeline_has_no_figures(stored) -> None:
    with stored.transaction() as session:
        session.scalars(select(Call).where(Call.call_id == "V01")).one().speech = []
    with stored.session() as session:
        assert call_detail(session, "V01", SHOWN).stats is None
        (record,) = [r.as_dict() for r in finding_records(session, SHOWN)]
    assert all(record[column] is None for column in STAT_COLUMNS)
