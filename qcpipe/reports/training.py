"""The trainers' library (培训案例库): the findings worth teaching, page by page, and the ones a
trainer marked as training examples, with why.

The library lists what `qcpipe examples` would write for the same query, in the same order
(`qcpipe.reports.examples.worst_findings`): only open or confirmed findings, never an overturned
one (a mistake must never be taught) nor an uncertain one nobody confirmed. A finding is marked
with a note (`TrainingExample`, one per finding; marking again changes the note) and unmarked;
each change is an audit event ("training.mark", "training.unmark") in its transaction. The
marked examples are a query of their own (`ExampleQuery.marked_only`), so a pack of them is the
same pack the command writes with `--marked`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from qcpipe.accounts import Viewer
from qcpipe.audit import record
from qcpipe.config import PrivacySettings
from qcpipe.errors import NotFoundError
from qcpipe.calls import shown_quote
from qcpipe.reports.examples import (
    DEFAULT_CONTEXT_S,
    USED_STATUSES,
    ExampleQuery,
    FindingExcerpt,
    check_filters,
    clip_wav,
    count_findings,
    finding_excerpt,
    training_marks,
    worst_findings,
)
from qcpipe.store import Agent, Call, FindingRecord
from qcpipe.store.models import TrainingExample

PAGE_SIZE = 20
NOTE_MAX_CHARS = 2000


@dataclass(frozen=True)
class TrainingMark:
    """Who marked a finding as a training example, when, and why."""

    note: str
    marked_by: str
    marked_at: datetime


@dataclass(frozen=True)
class LibraryEntry:
    """One finding of the library: the finding, its call, its excerpt and its training mark."""

    rank: int
    finding_id: int
    call_id: str
    rule_id: str
    title: str
    severity: str
    deduction: float
    veto: bool
    status: str
    agent: str | None
    agent_name: str | None
    started_at: datetime | None
    speaker: str
    start: float
    end: float
    quote: str
    phrase: str
    match_kind: str
    note: str
    excerpt: FindingExcerpt
    mark: TrainingMark | None


@dataclass(frozen=True)
class LibraryPage:
    """One page of the library: its entries worst first, and how many match in all."""

    entries: tuple[LibraryEntry, ...]
    total: int
    page: int
    pages: int
    page_size: int


def library_page(
    session: Session, viewer: Viewer, query: ExampleQuery, *, timezone: str, known_rules: Collection[str] = (),
    privacy: PrivacySettings = PrivacySettings(), page: int = 1, page_size: int = PAGE_SIZE,
) -> LibraryPage:
    """Page `page` of the findings of `query` (its limit is ignored) within what `viewer` sees.
    Raises ExamplesError for an unknown check, agent or severity, or a bad month."""
    check_filters(session, query, known_rules)
    scope = viewer.call_scope()
    total = count_findings(session, query, timezone, scope=scope)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    listed = ExampleQuery(rule_id=query.rule_id, agent=query.agent, month=query.month, limit=page_size,
                          context_s=query.context_s, severity=query.severity, marked_only=query.marked_only)
    findings = worst_findings(session, listed, timezone, offset=(page - 1) * page_size, scope=scope)
    marks = training_marks(session, [finding.id for finding in findings])
    entries = tuple(
        _entry((page - 1) * page_size + rank, finding, marks.get(finding.id), query.context_s, privacy)
        for rank, finding in enumerate(findings, start=1)
    )
    return LibraryPage(entries, total, page, pages, page_size)


def _entry(rank: int, finding: FindingRecord, mark: TrainingExample | None, context_s: float,
           privacy: PrivacySettings) -> LibraryEntry:
    call = finding.call
    agent = call.agent
    return LibraryEntry(
        rank=rank, finding_id=finding.id, call_id=call.call_id, rule_id=finding.rule_id, title=finding.title,
        severity=finding.severity, deduction=finding.deduction, veto=finding.veto, status=finding.status,
        agent=agent.code if agent else None, agent_name=agent.name if agent else None, started_at=call.started_at,
        speaker=finding.speaker, start=finding.start_s, end=finding.end_s, quote=shown_quote(finding.quote, privacy),
        phrase=finding.phrase, match_kind=finding.match_kind, note=finding.note, excerpt=finding_excerpt(finding, context_s, privacy),
        mark=TrainingMark(mark.note, mark.marked_by, mark.marked_at) if mark else None,
    )


def library_finding(session: Session, viewer: Viewer, finding_id: int) -> FindingRecord:
    """A finding the library shows: open or confirmed, of a call `viewer` sees, with its call
    loaded. Raises NotFoundError otherwise (an overturned finding is not in the library)."""
    finding = session.scalar(
        select(FindingRecord)
        .join(Call, FindingRecord.call_pk == Call.id)
        .where(FindingRecord.id == finding_id, FindingRecord.status.in_(USED_STATUSES), viewer.call_scope())
        .options(selectinload(FindingRecord.call).selectinload(Call.segments),
                 selectinload(FindingRecord.call).selectinload(Call.agent).selectinload(Agent.team))
    )
    if finding is None:
        raise NotFoundError(f"no finding {finding_id} in the training library (it does not exist, "
                            "or it was overturned and is never taught)")
    return finding


def finding_clip(session: Session, viewer: Viewer, finding_id: int, context_s: float = DEFAULT_CONTEXT_S) -> bytes:
    """The WAV clip of a library finding, as a pack holds it. NotFoundError when the finding is
    not in the library; AudioError (naming the file) when its recording cannot be used."""
    return clip_wav(library_finding(session, viewer, finding_id), context_s)


def mark_example(session: Session, viewer: Viewer, finding_id: int, note: str, now: datetime) -> TrainingExample:
    """Mark a library finding as a training example with `note` (marking it again changes the
    note and who marked it). Audit event "training.mark"."""
    finding = library_finding(session, viewer, finding_id)
    note = note.strip()[:NOTE_MAX_CHARS]
    example = session.scalar(select(TrainingExample).where(TrainingExample.finding_id == finding.id))
    if example is None:
        example = TrainingExample(finding_id=finding.id, note=note, marked_by=viewer.username, marked_at=now)
        session.add(example)
    else:
        example.note, example.marked_by, example.marked_at = note, viewer.username, now
    record(session, viewer.username, "training.mark", "finding", finding.id,
           f"{finding.call.call_id} {finding.rule_id}: {note}", at=now)
    session.flush()
    return example


def unmark_example(session: Session, viewer: Viewer, finding_id: int, now: datetime) -> bool:
    """Take a finding out of the training examples; False (and no event) when it was not marked.
    Audit event "training.unmark"."""
    finding = library_finding(session, viewer, finding_id)
    example = session.scalar(select(TrainingExample).where(TrainingExample.finding_id == finding.id))
    if example is None:
        return False
    session.delete(example)
    record(session, viewer.username, "training.unmark", "finding", finding.id,
           f"{finding.call.call_id} {finding.rule_id}: was “{example.note}” by {example.marked_by}", at=now)
    session.flush()
    return True


@dataclass(frozen=True)
class LibraryChoices:
    """What the library's filters offer: the checks (rulebook's and found) and the agents."""

    rules: tuple[str, ...]
    agents: tuple[tuple[str, str | None], ...]  # (code, name)


def library_choices(session: Session, viewer: Viewer, known_rules: Collection[str]) -> LibraryChoices:
    found = set(session.scalars(select(FindingRecord.rule_id).distinct()))
    agents = session.execute(
        select(Agent.code, Agent.name).where(Agent.id.in_(select(Call.agent_id).where(viewer.call_scope())))
        .order_by(Agent.code)
    )
    rules = tuple(known_rules) + tuple(sorted(found - set(known_rules)))  # the rulebook's order first
    return LibraryChoices(rules, tuple((code, name) for code, name in agents))
