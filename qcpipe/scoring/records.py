"""Scoring's rows: a stored call as scoring reads it, and a score stored with its findings.

Each function works inside the caller's transaction.
"""

from __future__ import annotations

from itertools import starmap

from sqlalchemy.orm import Session

from qcpipe.asr import types as asr
from qcpipe.scoring.engine import call_score
from qcpipe.scoring.model import CallInput, CallScore
from qcpipe.store.models import Call, FindingRecord, FindingStatus, utcnow


def call_input(call: Call) -> CallInput:
    """A stored call as the scoring stage takes it."""
    # A dict for the roles and `starmap` for the words: a month's preview builds millions of these.
    role = _ROLES.__getitem__
    word = asr.Word
    return CallInput(
        call_id=call.call_id,
        segments=tuple(
            asr.Segment(
                channel=seg.channel,
                role=role(seg.role),
                start=seg.start_s,
                end=seg.end_s,
                text=seg.text,
                confidence=seg.confidence,
                words=tuple(starmap(word, seg.words)),
            )
            for seg in call.segments
        ),
        speech=tuple(asr.SpeechRegion(r.channel, role(r.role), r.start_s, r.end_s, r.level_db) for r in call.speech),
        unheard=tuple(asr.SpeechRegion(r.channel, role(r.role), r.start_s, r.end_s) for r in call.unheard),
        queue_wait_s=call.queue_wait_s,
        duration_s=call.duration_s,
    )


_ROLES = {str(role): role for role in asr.Role} | {role: role for role in asr.Role}


def save_score(session: Session, call: Call, result: CallScore) -> None:
    """Store a scoring result. A finding that was already there (same check, phrase and time)
    keeps its id, status, reviews and appeals: re-scoring never erases a monitor's decision.
    A finding whose evidence is doubtful is stored `uncertain` (not yet ruled on) or `open`; an
    observation (a check that deducts nothing) `noted`."""
    call.scored_at = utcnow()
    call.rulebook_hash = result.rulebook_hash
    call.not_applicable = [[na.rule_id, na.reason] for na in result.not_applicable]
    call.checks_applied = list(result.applied)
    earlier = {(f.rule_id, f.phrase, round(f.start_s)): f for f in call.findings}
    records = []
    for f in result.findings:
        record = earlier.pop((f.rule_id, f.phrase, round(f.start)), None) or FindingRecord(status=FindingStatus.OPEN)
        if record.status in (FindingStatus.OPEN, FindingStatus.UNCERTAIN, FindingStatus.NOTED):  # not yet ruled on
            record.status = FindingStatus.NOTED if f.observation else \
                FindingStatus.UNCERTAIN if f.doubt else FindingStatus.OPEN
        record.doubt = f.doubt or None
        record.rule_id, record.title, record.deduction = f.rule_id, f.title, f.deduction
        record.severity, record.veto, record.speaker = f.severity, f.veto, f.speaker.value
        record.start_s, record.end_s, record.quote = f.start, f.end, f.quote
        record.phrase, record.wording, record.match_kind = f.phrase, f.wording, f.match_kind.value
        record.match_score, record.note, record.rulebook_hash = f.score, f.note, f.rulebook_hash
        records.append(record)
    call.findings = records
    update_call_score(call)


def update_call_score(call: Call) -> None:
    """The call's score from its findings as reviewed: an overturned finding no longer deducts,
    an uncertain one not yet."""
    call.qa_score = call_score([f for f in call.findings if f.status not in NOT_DEDUCTING])


NOT_DEDUCTING = (FindingStatus.OVERTURNED, FindingStatus.UNCERTAIN, FindingStatus.NOTED)
