"""Stored calls without Whisper: ORM rows built by hand, or scripted calls stored and scored.

- `call()` / `finding()`: rows with the score and findings given (reports computed by hand).
- `seed_call()`: a scripted dialogue stored as the pipeline stores a transcript, then scored by
  the real rulebook: its findings are the ones a real call saying those words would get.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import count
from pathlib import Path

from sqlalchemy.orm import Session

from qcpipe.asr.types import AsrOptions, Transcript
from qcpipe.ingest import CallSource
from qcpipe.pipeline.records import Timings, save_transcript
from qcpipe.scoring import Rulebook, score_call
from qcpipe.scoring.records import save_score
from qcpipe.store import Agent, Call, CallStatus, FindingRecord, FindingStatus
from tests.helpers.calls import Turn, make_call

RULES = ("greeting", "closing", "hold_notice")  # the checks a `call()` applied unless told
_call_numbers = count(1)


def moment(started: str) -> datetime:
    """An ISO 8601 time with offset; a bare date is noon in Shanghai."""
    return datetime.fromisoformat(started if "T" in started else f"{started}T12:00:00+08:00")


def finding(rule_id: str, status: FindingStatus = FindingStatus.OPEN) -> FindingRecord:
    return FindingRecord(
        rule_id=rule_id, title=rule_id, deduction=10, severity="major", veto=False, speaker="agent", start_s=1.0,
        end_s=2.0, quote="", phrase="", wording="", match_kind="absent", match_score=0.0, note="",
        rulebook_hash="test", status=status,
    )


def call(
    agent: Agent,
    started: str,
    score: float | None,
    *,
    applied: Sequence[str] = RULES,
    legacy: bool = False,
    not_applicable: list[list[str]] | None = None,
    findings: tuple[FindingRecord, ...] = (),
    status: CallStatus = CallStatus.DONE,
) -> Call:
    """A call started at `started` (ISO 8601 with offset; a bare date is noon in Shanghai).
    legacy: scored before checks_applied was recorded (it is None)."""
    when = moment(started)
    return Call(
        call_id=f"C{next(_call_numbers):05d}", audio_path="/dev/null", status=status, extra={}, agent=agent,
        started_at=when, qa_score=score, checks_applied=None if legacy else list(applied),
        not_applicable=not_applicable or [], findings=list(findings),
    )


def seed_call(
    session: Session,
    turns: Sequence[Turn],
    *,
    call_id: str,
    agent: str | None = None,
    team: str | None = None,
    agent_name: str | None = None,
    started_at: datetime | str | None = None,
    queue_wait_s: float | None = 20.0,
    rulebook: Rulebook,
) -> Call:
    """Store the call of `turns` ([role, start, end, text], agent on channel 0) as the pipeline
    stores a stereo transcript (segments with a word per character, speech regions, the agent and
    team of the CTI manifest), score it with `rulebook` and store the score and its findings.

    The text is stored as given, unmasked (like `store_heard_text = true`). started_at: a
    datetime, or ISO 8601 text as `call()` takes it.
    """
    scripted = make_call(turns, call_id=call_id, queue_wait_s=queue_wait_s, timed_words=True)
    transcript = Transcript(
        segments=scripted.segments, speech=scripted.speech, duration=scripted.duration_s or 0.0, channels=2,
        roles_known=True, options=AsrOptions(),
    )
    source = CallSource(
        call_id=call_id, audio_path=Path(f"/nonexistent/{call_id}.wav"), agent_id=agent, agent_name=agent_name,
        team=team, started_at=moment(started_at) if isinstance(started_at, str) else started_at,
        queue_wait_s=queue_wait_s,
    )
    stored = save_transcript(session, source, f"seeded:{call_id}", transcript, Timings(decode_s=0.0, asr_s=0.0))
    save_score(session, stored, score_call(scripted, rulebook))
    session.flush()  # ids for the findings; the agent's new team found by the next seed_call
    return stored
