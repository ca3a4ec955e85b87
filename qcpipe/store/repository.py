"""Reading and writing calls. Each function works inside the caller's session/transaction."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from qcpipe.asr import types as asr
from qcpipe.asr.types import Transcript
from qcpipe.errors import NotFoundError
from qcpipe.ingest import CallSource
from qcpipe.scoring import CallInput, CallScore
from qcpipe.scoring.engine import call_score
from qcpipe.store.models import (
    Agent,
    Call,
    CallClaim,
    CallStatus,
    FindingRecord,
    FindingStatus,
    Segment,
    SpeechRegion,
    Team,
    stored_path,
    utcnow,
)


@dataclass(frozen=True)
class Timings:
    """Seconds spent on one call: decoding the audio file, and speech recognition."""

    decode_s: float
    asr_s: float


@dataclass(frozen=True)
class RunOwner:
    """Who holds a claim: one `qcpipe run` process (host, pid, and a token per run)."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def key(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"[:200]


def claim_call(session: Session, call_id: str, owner: RunOwner, lease_s: float) -> CallClaim | None:
    """Claim `call_id` for `owner`. None when claimed; else the live claim of another run.

    A claim is dead, and taken over, when its heartbeat is older than `lease_s` or its
    process is gone from this host (killed runs leave their claims behind).
    """
    now = utcnow()
    claim = session.get(CallClaim, call_id)
    if claim is None:
        session.add(CallClaim(call_id=call_id, owner=owner.key, host=owner.host, pid=owner.pid,
                              claimed_at=now, heartbeat_at=now))
        session.flush()  # another database client claiming it at once fails here, not later
        return None
    if claim.owner == owner.key or _claim_is_dead(claim, now, lease_s):
        claim.owner, claim.host, claim.pid, claim.claimed_at, claim.heartbeat_at = (
            owner.key, owner.host, owner.pid, now, now)
        return None
    return claim


def release_claims(session: Session, owner: RunOwner, call_id: str | None = None) -> None:
    """Drop `owner`'s claim on `call_id`, or all its claims."""
    query = delete(CallClaim).where(CallClaim.owner == owner.key)
    if call_id is not None:
        query = query.where(CallClaim.call_id == call_id)
    session.execute(query)


def renew_claims(session: Session, owner: RunOwner) -> None:
    """The heartbeat: `owner` is alive and still working on what it claimed."""
    session.execute(update(CallClaim).where(CallClaim.owner == owner.key).values(heartbeat_at=utcnow()))


def _claim_is_dead(claim: CallClaim, now: datetime, lease_s: float) -> bool:
    if claim.heartbeat_at < now - timedelta(seconds=lease_s):
        return True
    if claim.host != socket.gethostname():
        return False
    try:
        os.kill(claim.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def find_call(session: Session, call_id: str) -> Call | None:
    return session.scalar(select(Call).where(Call.call_id == call_id))


def is_up_to_date(call: Call | None, content_hash: str, asr_fingerprint: str, *, retry_failed: bool) -> bool:
    """True when this exact audio was already processed with these ASR settings.

    A failed call counts as processed (it would fail the same way) unless `retry_failed`.
    """
    if call is None or call.content_hash != content_hash:
        return False
    if call.status == CallStatus.FAILED:
        return not retry_failed
    return call.asr_fingerprint == asr_fingerprint


def save_transcript(
    session: Session, source: CallSource, content_hash: str, transcript: Transcript, timings: Timings
) -> Call:
    """Store a transcribed call, replacing any earlier transcript of the same call id."""
    call = _call_for(session, source, content_hash, CallStatus.DONE)
    call.error = None
    call.duration_s = transcript.duration
    call.channels = transcript.channels
    call.source_rate = transcript.source_rate
    call.roles_known = transcript.roles_known
    call.model = transcript.options.model
    call.asr_fingerprint = transcript.options.fingerprint()
    call.asr_options = asdict(transcript.options)
    call.decode_s, call.asr_s = round(timings.decode_s, 3), round(timings.asr_s, 3)
    call.segments = [
        Segment(
            channel=seg.channel,
            role=seg.role.value,
            start_s=seg.start,
            end_s=seg.end,
            text=seg.text,
            confidence=seg.confidence,
            words=[[w.text, w.start, w.end, w.probability] for w in seg.words],
        )
        for seg in transcript.segments
    ]
    call.speech = [
        SpeechRegion(channel=r.channel, role=r.role.value, start_s=r.start, end_s=r.end) for r in transcript.speech
    ]
    return call


def save_failure(session: Session, source: CallSource, content_hash: str | None, error: str) -> Call:
    """Record why a call could not be processed. An earlier good transcript is kept, not deleted."""
    call = _call_for(session, source, content_hash, CallStatus.FAILED)
    call.error = error
    return call


def list_calls(session: Session, status: CallStatus | None = None) -> list[Call]:
    query = select(Call).options(selectinload(Call.agent).selectinload(Agent.team)).order_by(Call.call_id)
    if status is not None:
        query = query.where(Call.status == status)
    return list(session.scalars(query))


def load_call(session: Session, call_id: str) -> Call:
    """A call with its segments and agent; NotFoundError if the id is unknown."""
    call = session.scalar(
        select(Call)
        .where(Call.call_id == call_id)
        .options(selectinload(Call.segments), selectinload(Call.agent).selectinload(Agent.team))
    )
    if call is None:
        raise NotFoundError(f"no call '{call_id}' in the database")
    return call


def iter_segments(session: Session, batch: int = 1000) -> Iterator[tuple[Call, Segment]]:
    """Every stored segment of every transcribed call, in call then time order, streamed."""
    query = (
        select(Call, Segment)
        .join(Segment, Segment.call_pk == Call.id)
        .where(Call.status == CallStatus.DONE)
        .order_by(Call.call_id, Segment.start_s, Segment.channel)
        .execution_options(yield_per=batch)
    )
    for call, segment in session.execute(query):
        yield call, segment


def call_input(call: Call) -> CallInput:
    """A stored call as the scoring stage takes it."""
    return CallInput(
        call_id=call.call_id,
        segments=tuple(
            asr.Segment(
                channel=seg.channel,
                role=asr.Role(seg.role),
                start=seg.start_s,
                end=seg.end_s,
                text=seg.text,
                confidence=seg.confidence,
                words=tuple(asr.Word(*word) for word in seg.words),
            )
            for seg in call.segments
        ),
        speech=tuple(
            asr.SpeechRegion(r.channel, asr.Role(r.role), r.start_s, r.end_s) for r in call.speech
        ),
        queue_wait_s=call.queue_wait_s,
        duration_s=call.duration_s,
    )


def save_score(session: Session, call: Call, result: CallScore) -> None:
    """Store a scoring result. A finding that was already there (same check, phrase and time)
    keeps its id, status, reviews and appeals: re-scoring never erases a monitor's decision."""
    call.scored_at = utcnow()
    call.rulebook_hash = result.rulebook_hash
    call.not_applicable = [[na.rule_id, na.reason] for na in result.not_applicable]
    call.checks_applied = list(result.applied)
    earlier = {(f.rule_id, f.phrase, round(f.start_s)): f for f in call.findings}
    records = []
    for f in result.findings:
        record = earlier.pop((f.rule_id, f.phrase, round(f.start)), None) or FindingRecord(status=FindingStatus.OPEN)
        record.rule_id, record.title, record.deduction = f.rule_id, f.title, f.deduction
        record.severity, record.veto, record.speaker = f.severity, f.veto, f.speaker.value
        record.start_s, record.end_s, record.quote = f.start, f.end, f.quote
        record.phrase, record.wording, record.match_kind = f.phrase, f.wording, f.match_kind.value
        record.match_score, record.note, record.rulebook_hash = f.score, f.note, f.rulebook_hash
        records.append(record)
    call.findings = records
    update_call_score(call)


def update_call_score(call: Call) -> None:
    """The call's score from its findings as reviewed: an overturned finding no longer deducts."""
    call.qa_score = call_score([f for f in call.findings if f.status != FindingStatus.OVERTURNED])


def calls_for_scoring(
    session: Session, since: datetime | None = None, *, after_pk: int = 0, limit: int = 200
) -> list[Call]:
    """Transcribed calls (started on or after `since`, id above `after_pk`) with what scoring reads."""
    query = (
        select(Call)
        .where(Call.status == CallStatus.DONE, Call.id > after_pk)
        .options(selectinload(Call.segments), selectinload(Call.speech), selectinload(Call.findings))
        .order_by(Call.id)
    )
    if since is not None:
        query = query.where(Call.started_at >= since)
    return list(session.scalars(query.limit(limit)))


def iter_findings(session: Session, batch: int = 1000) -> Iterator[tuple[Call, FindingRecord]]:
    """Every finding with its call, in call then time order, streamed."""
    query = (
        select(Call, FindingRecord)
        .join(FindingRecord, FindingRecord.call_pk == Call.id)
        .options(selectinload(Call.agent))
        .order_by(Call.call_id, FindingRecord.start_s, FindingRecord.rule_id)
        .execution_options(yield_per=batch)
    )
    yield from session.execute(query)


def violations_by_call(session: Session) -> dict[str, set[str]]:
    """For each scored call, the checks it violates (overturned findings do not count)."""
    result: dict[str, set[str]] = {
        call_id: set() for call_id in session.scalars(select(Call.call_id).where(Call.scored_at.is_not(None)))
    }
    rows = session.execute(
        select(Call.call_id, FindingRecord.rule_id)
        .join(FindingRecord, FindingRecord.call_pk == Call.id)
        .where(FindingRecord.status != FindingStatus.OVERTURNED)
    )
    for call_id, rule_id in rows:
        result[call_id].add(rule_id)
    return result


def _call_for(session: Session, source: CallSource, content_hash: str | None, status: CallStatus) -> Call:
    with session.no_autoflush:
        agent = _agent(session, source) if source.agent_id else None
    call = find_call(session, source.call_id)
    if call is None:
        call = Call(call_id=source.call_id, status=status, extra={})
        session.add(call)
    call.status = status
    call.agent = agent or call.agent
    call.audio_path = stored_path(source.audio_path)
    call.content_hash = content_hash
    call.started_at = source.started_at
    call.queue_wait_s = source.queue_wait_s
    call.extra = dict(source.extra)
    call.processed_at = utcnow()
    return call


def _agent(session: Session, source: CallSource) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.code == source.agent_id))
    if agent is None:
        agent = Agent(code=source.agent_id)
        session.add(agent)
    if source.agent_name:
        agent.name = source.agent_name
    if source.team:
        team = session.scalar(select(Team).where(Team.name == source.team))
        if team is None:
            team = Team(name=source.team)
            session.add(team)
        agent.team = team
    return agent
