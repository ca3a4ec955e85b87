"""Scoring's rows: unheard spans read back for scoring, and uncertain findings stored as such
(deducting nothing until a monitor rules), on each database."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from qcpipe.asr.types import AsrOptions, Role, SpeechRegion, Transcript
from qcpipe.ingest import CallSource
from qcpipe.pipeline.records import Timings, save_transcript
from qcpipe.scoring import parse_rulebook, score_call
from qcpipe.scoring.records import call_input, save_score
from qcpipe.store import Call, FindingStatus
from tests.helpers.calls import make_call

TURNS = [["agent", 9.0, 12.0, "请问有什么可以帮您？"], ["customer", 12.5, 14.0, "我查一下账单。"],
         ["agent", 40.0, 44.0, "感谢您的来电，再见！"]]
RULES = """version: 1
name: records
evidence: {doubtful_confidence: 0.5}
checks:
  - id: greeting
    title: 标准开场白
    kind: required_phrases
    severity: minor
    deduction: 5
    role: agent
    window: {from: start, seconds: 15}
    require: [您好]
"""


def store(session, unheard=(), probability: float = 0.9) -> Call:
    scripted = make_call(TURNS, call_id="R0001", timed_words=True)
    segments = tuple(dataclasses.replace(s, words=tuple(dataclasses.replace(w, probability=probability)
                                                        for w in s.words)) for s in scripted.segments)
    transcript = Transcript(segments=segments, speech=scripted.speech, duration=44.0, channels=2, roles_known=True,
                            options=AsrOptions(), unheard=tuple(unheard))
    source = CallSource(call_id="R0001", audio_path=Path("/nonexistent/R0001.wav"))
    return save_transcript(session, source, "hash", transcript, Timings(0.0, 0.0))


def test_unheard_spans_are_stored_and_read_back_for_scoring(db):
    span = SpeechRegion(0, Role.AGENT, 0.8, 8.4)
    with db.transaction() as session:
        call = store(session, unheard=[span])
        save_score(session, call, score_call(call_input(call), parse_rulebook(RULES)))
    with db.session() as session:
        call = session.query(Call).one()
        assert call_input(call).unheard == (span,)
        assert call.findings == [] and call.qa_score == 100
        assert call.not_applicable[0][0] == "greeting" and "0.8–8.4 s" in call.not_applicable[0][1]


def test_a_doubtful_finding_is_stored_uncertain_and_deducts_nothing_until_confirmed(db):
    rulebook = parse_rulebook(RULES)
    with db.transaction() as session:
        call = store(session, probability=0.3)
        save_score(session, call, score_call(call_input(call), rulebook))
    with db.transaction() as session:
        call = session.query(Call).one()
        (finding,) = call.findings
        assert finding.status == FindingStatus.UNCERTAIN and "low confidence" in finding.doubt
        assert call.qa_score == 100
        finding.status = FindingStatus.CONFIRMED  # a monitor's ruling (review service)
        save_score(session, call, score_call(call_input(call), rulebook))  # re-scoring keeps it
    with db.session() as session:
        call = session.query(Call).one()
        assert [f.status for f in call.findings] == [FindingStatus.CONFIRMED] and call.qa_score == 95


def test_a_finding_heard_well_on_rescoring_is_open_again(db):
    with db.transaction() as session:
        call = store(session, probability=0.3)
        save_score(session, call, score_call(call_input(call), parse_rulebook(RULES)))
        assert call.findings[0].status == FindingStatus.UNCERTAIN
        confident = parse_rulebook(RULES.replace("doubtful_confidence: 0.5", "doubtful_confidence: 0.1"))
        save_score(session, call, score_call(call_input(call), confident))
        assert [(f.status, f.doubt) for f in call.findings] == [(FindingStatus.OPEN, None)]
        assert call.qa_score == 95
