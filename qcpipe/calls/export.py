"""Stored data as records other tools read (`qcpipe export`): one record per utterance or finding.

Records are streamed (a month of calls is never held at once) and masked as shown. Each record
carries its call's figures (`call_agent_talk_s` … `call_agent_chars_per_min`, see
`qcpipe.scoring.timeline.CallStats`), flat so that a table of records has them as columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qcpipe.calls.stats import call_stats, stat_columns
from qcpipe.calls.views import shown_quote, utterances
from qcpipe.scoring.records import NOT_DEDUCTING
from qcpipe.config import PrivacySettings
from qcpipe.store import repository as repo
from qcpipe.store.models import UnheardSpan


@dataclass(frozen=True)
class TranscriptExport:
    """One utterance. words: [text, start, end, probability] per token; times in seconds from the
    start of the recording. call_*: the call's figures (None where unknown)."""

    call_id: str
    role: str
    start: float
    end: float
    text: str
    channel: int
    confidence: float
    agent_id: str | None
    words: list[list[Any]]
    call_agent_talk_s: float | None = None
    call_customer_talk_s: float | None = None
    call_silence_s: float | None = None
    call_longest_silence_s: float | None = None
    call_overlaps: int | None = None
    call_overlap_s: float | None = None
    call_agent_chars_per_min: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FindingExport:
    """One finding with its evidence (the first eight fields are the stable core).

    status: open, uncertain, confirmed, overturned or noted. An `uncertain` finding deducts nothing
    until a monitor confirms it; `doubt` says why its evidence is doubtful (None otherwise). A
    `noted` finding is an observation of a check that deducts nothing (deduction 0).
    call_unheard_agent_s: seconds of the call's agent speech ASR could not transcribe.
    call_*: the call's figures (None where unknown)."""

    call_id: str
    rule_id: str
    deduction: float
    speaker: str
    start: float
    end: float
    quote: str
    status: str
    finding_id: int
    title: str
    severity: str
    veto: bool
    phrase: str
    wording: str
    match_kind: str
    match_score: float
    note: str
    rulebook_hash: str
    agent_id: str | None
    call_score: float | None
    doubt: str | None = None
    deducts: bool = True
    call_unheard_agent_s: float = 0.0
    call_agent_talk_s: float | None = None
    call_customer_talk_s: float | None = None
    call_silence_s: float | None = None
    call_longest_silence_s: float | None = None
    call_overlaps: int | None = None
    call_overlap_s: float | None = None
    call_agent_chars_per_min: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def transcript_records(session: Session, privacy: PrivacySettings) -> Iterator[TranscriptExport]:
    """Every utterance of every transcribed call, in call then time order."""
    # Masked per call, whatever was stored: a number read across utterances is seen whole.
    for _, pairs in groupby(repo.iter_segments(session), key=lambda pair: pair[0].call_id):
        pairs = list(pairs)
        call = pairs[0][0]
        figures = stat_columns(call_stats(call))
        for shown in utterances([seg for _, seg in pairs], privacy):
            yield TranscriptExport(
                call_id=call.call_id, role=shown.role, start=shown.start, end=shown.end, text=shown.text,
                channel=shown.channel, confidence=shown.confidence, agent_id=call.agent.code if call.agent else None,
                words=[[w.text, w.start, w.end, w.probability] for w in shown.words], **figures,
            )


def finding_records(session: Session, privacy: PrivacySettings) -> Iterator[FindingExport]:
    """Every finding with its call, in call then time order."""
    # Seconds of unheard agent speech per call, in one query (only calls that have any).
    unheard = {pk: round(float(seconds), 3) for pk, seconds in session.execute(
        select(UnheardSpan.call_pk, func.sum(UnheardSpan.end_s - UnheardSpan.start_s))
        .where(UnheardSpan.role == "agent").group_by(UnheardSpan.call_pk))}
    figures: tuple[int, dict[str, Any]] | None = None  # the current call's, computed once per call
    for call, f in repo.iter_findings(session):
        if figures is None or figures[0] != call.id:
            figures = (call.id, stat_columns(call_stats(call)))
        yield FindingExport(
            call_id=call.call_id, rule_id=f.rule_id, deduction=f.deduction, speaker=f.speaker, start=f.start_s,
            end=f.end_s, quote=shown_quote(f.quote, privacy), status=f.status, finding_id=f.id, title=f.title,
            severity=f.severity, veto=f.veto, phrase=f.phrase, wording=f.wording, match_kind=f.match_kind,
            match_score=f.match_score, note=f.note, rulebook_hash=f.rulebook_hash,
            agent_id=call.agent.code if call.agent else None, call_score=call.qa_score,
            doubt=f.doubt or None, deducts=f.status not in NOT_DEDUCTING, call_unheard_agent_s=unheard.get(call.id, 0.0),
            **figures[1],
        )
