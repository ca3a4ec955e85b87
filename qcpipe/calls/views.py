"""A call, its dialogue and its findings as a monitor, agent or team leader reads them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from qcpipe.asr.types import Word
from qcpipe.config import PrivacySettings
from qcpipe.privacy import mask_stored_segments, mask_text, mask_word_texts
from qcpipe.accounts.roles import Viewer
from qcpipe.errors import NotFoundError
from qcpipe.calls.stats import call_stats
from qcpipe.scoring.records import NOT_DEDUCTING
from qcpipe.scoring.timeline import CallStats
from qcpipe.store import Call, CallStatus, FindingRecord, FindingStatus
from qcpipe.store.models import Appeal, AppealStatus, ReviewDecision, UnheardSpan
from qcpipe.store import Segment as StoredSegment
from qcpipe.store import repository as repo


UNDECIDED = (FindingStatus.OPEN, FindingStatus.UNCERTAIN)
"""Statuses of a finding no monitor has ruled on yet: what the monitors' queue is made of."""


def shown_dialogue(segments: Sequence[StoredSegment], privacy: PrivacySettings) -> list[str]:
    """The text to show of each of a call's stored utterances (a number read across utterances masked whole)."""
    return mask_stored_segments(segments, privacy)


def shown_quote(text: str, privacy: PrivacySettings) -> str:
    """A finding's quote as it may be shown."""
    return mask_text(text, privacy)


@dataclass(frozen=True)
class Utterance:
    """One utterance of the dialogue, text as shown. role: agent, customer or unknown (mono)."""

    role: str
    channel: int
    start: float
    end: float
    text: str
    confidence: float
    words: tuple[Word, ...]


@dataclass(frozen=True)
class UnheardView:
    """Voiced time of one party that ASR could not transcribe: checks for a phrase that may have
    been said there are not applied, and the place to listen to."""

    role: str
    channel: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)

    @classmethod
    def of(cls, span: UnheardSpan) -> UnheardView:
        return cls(span.role, span.channel, span.start_s, span.end_s)


@dataclass(frozen=True)
class FindingView:
    """A finding as a monitor reads it, its quote as shown.

    status `uncertain`: the evidence for a missing phrase was heard too poorly to be sure
    (`doubt` says why); it deducts nothing until a monitor confirms it. status `noted`: an
    observation of a check that deducts nothing (reported, not review work)."""

    id: int
    call_id: str
    rule_id: str
    title: str
    deduction: float
    veto: bool
    speaker: str
    start: float
    end: float
    quote: str
    phrase: str
    match_kind: str
    status: str
    note: str
    doubt: str | None = None

    @property
    def uncertain(self) -> bool:
        return self.status == FindingStatus.UNCERTAIN

    @property
    def observation(self) -> bool:
        return self.status == FindingStatus.NOTED

    @property
    def deducts(self) -> bool:
        """Whether it takes its deduction off the call's score now."""
        return self.status not in NOT_DEDUCTING

    @property
    def undecided(self) -> bool:
        """No monitor has ruled on it yet (open or uncertain)."""
        return self.status in UNDECIDED

    @classmethod
    def of(cls, finding: FindingRecord, privacy: PrivacySettings) -> FindingView:
        return cls(
            finding.id, finding.call.call_id, finding.rule_id, finding.title, finding.deduction, finding.veto,
            finding.speaker, finding.start_s, finding.end_s, shown_quote(finding.quote, privacy), finding.phrase,
            finding.match_kind, finding.status, finding.note, finding.doubt or None,
        )


def deducting_since(finding: FindingRecord) -> datetime:
    """When the finding began to cost the agent: when it was raised, or, for one raised uncertain
    (a `doubt`) and confirmed later, when a monitor first confirmed it. The appeal window runs
    from here: an agent is not out of time to appeal a deduction that did not exist yet."""
    if finding.doubt:
        confirmed = [r.decided_at for r in finding.reviews if r.decision == ReviewDecision.CONFIRM]
        if confirmed:
            return max(finding.created_at, min(confirmed))
    return finding.created_at


@dataclass(frozen=True)
class HistoryEntry:
    """One event in a finding's life: a review or an appeal (filed, ruled)."""

    at: datetime
    what: str
    who: str
    comment: str


def history_of(finding: FindingRecord) -> list[HistoryEntry]:
    """Everything decided about a finding, oldest first."""
    events = [
        HistoryEntry(r.decided_at, f"{r.decision}{' (appeal ruling)' if r.appeal_id else ''}", r.reviewer, r.comment)
        for r in finding.reviews
    ]
    for appeal in finding.appeals:
        events.append(HistoryEntry(appeal.filed_at, f"appeal {appeal.id} filed", appeal.agent, appeal.reason))
    return sorted(events, key=lambda e: e.at)


@dataclass(frozen=True)
class AppealView:
    """An agent's appeal of a finding and, once ruled, the ruling (final)."""

    id: int
    finding_id: int
    agent: str
    reason: str
    filed_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None

    @classmethod
    def of(cls, appeal: Appeal) -> AppealView:
        return cls(appeal.id, appeal.finding_id, appeal.agent, appeal.reason, appeal.filed_at, appeal.status,
                   appeal.decided_by, appeal.decided_at, appeal.decision_comment)


@dataclass(frozen=True)
class FindingDetail:
    """A finding on its call's page: the view, its version (for decisions), history and appeals."""

    finding: FindingView
    version: int
    created_at: datetime
    history: tuple[HistoryEntry, ...]
    appeals: tuple[AppealView, ...]
    deducting_since: datetime | None = None  # None while it deducts nothing yet (uncertain)

    @property
    def pending_appeal(self) -> AppealView | None:
        return next((a for a in self.appeals if a.status == AppealStatus.PENDING), None)

    @property
    def final(self) -> bool:
        """Ruled on appeal: no further review or appeal."""
        return any(a.status != AppealStatus.PENDING for a in self.appeals)


@dataclass(frozen=True)
class CallRow:
    """A line of the call listing: who, when, how long, and what became of it."""

    call_id: str
    status: str
    agent_id: str | None
    agent_name: str | None
    team: str | None
    started_at: datetime | None
    duration_s: float | None
    channels: int | None
    roles_known: bool | None
    model: str | None
    error: str | None
    score: float | None

    @classmethod
    def of(cls, call: Call) -> CallRow:
        agent = call.agent
        return cls(
            call_id=call.call_id, status=call.status, agent_id=agent.code if agent else None,
            agent_name=agent.name if agent else None, team=agent.team.name if agent and agent.team else None,
            started_at=call.started_at, duration_s=call.duration_s, channels=call.channels,
            roles_known=call.roles_known, model=call.model, error=call.error, score=call.qa_score,
        )


@dataclass(frozen=True)
class CallDetail:
    """A whole call: its listing line, the dialogue in time order, findings, checks not applied,
    the speech ASR could not transcribe (`unheard`, every party, in time order), and its figures
    (`stats`: talk time, silence, overlaps, agent speech rate; None when it has no timeline)."""

    call: CallRow
    utterances: tuple[Utterance, ...]
    findings: tuple[FindingDetail, ...]
    not_applicable: tuple[tuple[str, str], ...]  # (rule id, why)
    recording: Path
    unheard: tuple[UnheardView, ...] = ()
    stats: CallStats | None = None

    @property
    def failed(self) -> bool:
        return self.call.status == CallStatus.FAILED

    @property
    def unheard_agent_s(self) -> float:
        """Seconds of the agent's speech that could not be transcribed."""
        return round(sum(span.seconds for span in self.unheard if span.role == "agent"), 3)

    @property
    def uncertain_findings(self) -> int:
        return sum(1 for f in self.findings if f.finding.uncertain)

    @property
    def timeline(self) -> list[tuple[str, Utterance | UnheardView]]:
        """The dialogue with the unheard spans in their places: ("utterance", Utterance) and
        ("unheard", UnheardView) by start time (an utterance first at the same time)."""
        items: list[tuple[float, int, str, Utterance | UnheardView]] = [
            (u.start, 0, "utterance", u) for u in self.utterances
        ] + [(s.start, 1, "unheard", s) for s in self.unheard]
        return [(kind, item) for _, _, kind, item in sorted(items, key=lambda entry: (entry[0], entry[1]))]


def list_calls(session: Session, status: CallStatus | None = None) -> list[CallRow]:
    """Every processed call (or those with `status`), by call id."""
    return [CallRow.of(call) for call in repo.list_calls(session, status)]


def call_detail(session: Session, call_id: str, privacy: PrivacySettings, viewer: Viewer | None = None) -> CallDetail:
    """The call with its dialogue and findings as shown.

    NotFoundError if the id is unknown, or the `viewer` may not see the call: whether it exists
    is not theirs to know either.
    """
    call = visible_call(session, call_id, viewer)
    return CallDetail(
        call=CallRow.of(call),
        utterances=tuple(utterances(call.segments, privacy)),
        findings=tuple(
            FindingDetail(FindingView.of(f, privacy), f.version, f.created_at, tuple(history_of(f)),
                          tuple(AppealView.of(a) for a in f.appeals),
                          None if f.status == FindingStatus.UNCERTAIN else deducting_since(f))
            for f in call.findings
        ),
        not_applicable=tuple((rule_id, reason) for rule_id, reason in call.not_applicable or ()),
        recording=call.recording_path,
        unheard=tuple(UnheardView.of(span) for span in call.unheard),
        stats=call_stats(call),
    )


def visible_call(session: Session, call_id: str, viewer: Viewer | None) -> Call:
    """A stored call the viewer may see (None: the shell, which sees everything)."""
    call = repo.load_call(session, call_id)
    if viewer is not None and not viewer.sees(call):
        raise NotFoundError(f"no call '{call_id}' in the database")
    return call


def visible_finding(session: Session, finding_id: int, viewer: Viewer | None) -> FindingRecord:
    """A finding whose call the viewer may see; NotFoundError otherwise (same answer as unknown)."""
    finding = repo.get_row(session, FindingRecord, finding_id)
    if finding is None or (viewer is not None and not viewer.sees(finding.call)):
        raise NotFoundError(f"no finding {finding_id}")
    return finding


def utterances(segments: Sequence[StoredSegment], privacy: PrivacySettings) -> list[Utterance]:
    """One call's stored utterances as shown, words masked like their text."""
    shown = []
    for seg, text in zip(segments, shown_dialogue(segments, privacy)):
        word_texts = mask_word_texts([w[0] for w in seg.words], seg.text, text, privacy)
        words = tuple(Word(t, w[1], w[2], w[3]) for t, w in zip(word_texts, seg.words))
        shown.append(Utterance(seg.role, seg.channel, seg.start_s, seg.end_s, text, seg.confidence, words))
    return shown
