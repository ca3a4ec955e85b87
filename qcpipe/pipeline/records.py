"""The batch's writes: a processed call (its transcript, or why it failed) as rows.

Each function works inside the caller's transaction: one call, all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from qcpipe.asr.types import Transcript
from qcpipe.ingest import CallSource
from qcpipe.store.models import Call, CallStatus, Segment, SpeechRegion, UnheardSpan, stored_path, utcnow
from qcpipe.store.repository import agent_for, find_call


@dataclass(frozen=True)
class Timings:
    """Seconds spent on one call: decoding the audio file, and speech recognition."""

    decode_s: float
    asr_s: float


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
    call.asr_options = transcript.options.recorded()
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
        SpeechRegion(channel=r.channel, role=r.role.value, start_s=r.start, end_s=r.end, level_db=r.level_db)
        for r in transcript.speech
    ]
    call.unheard = [
        UnheardSpan(channel=r.channel, role=r.role.value, start_s=r.start, end_s=r.end) for r in transcript.unheard
    ]
    return call


def save_failure(session: Session, source: CallSource, content_hash: str | None, error: str) -> Call:
    """Record why a call could not be processed. An earlier good transcript is kept, not deleted."""
    call = _call_for(session, source, content_hash, CallStatus.FAILED)
    call.error = error
    return call


def _call_for(session: Session, source: CallSource, content_hash: str | None, status: CallStatus) -> Call:
    agent = agent_for(session, source.agent_id, source.agent_name, source.team) if source.agent_id else None
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
