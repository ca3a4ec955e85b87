"""Queries over the tables, shared by the stages above. Each works inside the caller's session.

The store knows rows only: turning a transcript, a call source or a score into rows belongs to
the stage that owns those objects (`pipeline.records`, `scoring.records`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from qcpipe.errors import NotFoundError
from qcpipe.store.models import Agent, Call, CallStatus, FindingRecord, FindingStatus, Segment, Team

T = TypeVar("T")


MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL: a larger number names nothing


def get_row(session: Session, table: type[T], row_id: int, **options: Any) -> T | None:
    """The row with this id, None when there is none (also for an id no row can have)."""
    return session.get(table, row_id, **options) if 0 < row_id <= MAX_ID else None


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


def list_calls(session: Session, status: CallStatus | None = None) -> list[Call]:
    query = select(Call).options(selectinload(Call.agent).selectinload(Agent.team)).order_by(Call.call_id)
    if status is not None:
        query = query.where(Call.status == status)
    return list(session.scalars(query))


def load_call(session: Session, call_id: str) -> Call:
    """A call with its segments, agent, findings and their decisions; NotFoundError if the id is unknown."""
    call = session.scalar(
        select(Call)
        .where(Call.call_id == call_id)
        .options(
            selectinload(Call.segments),
            selectinload(Call.speech),
            selectinload(Call.agent).selectinload(Agent.team),
            selectinload(Call.findings).selectinload(FindingRecord.reviews),
            selectinload(Call.findings).selectinload(FindingRecord.appeals),
        )
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
    """For each scored call, the checks it violates: findings that deduct (not overturned, not
    uncertain: those deduct nothing until a monitor confirms them, and not noted: observations
    of checks that deduct nothing)."""
    result: dict[str, set[str]] = {
        call_id: set() for call_id in session.scalars(select(Call.call_id).where(Call.scored_at.is_not(None)))
    }
    rows = session.execute(
        select(Call.call_id, FindingRecord.rule_id)
        .join(FindingRecord, FindingRecord.call_pk == Call.id)
        .where(FindingRecord.status.not_in([FindingStatus.OVERTURNED, FindingStatus.UNCERTAIN, FindingStatus.NOTED]))
    )
    for call_id, rule_id in rows:
        result[call_id].add(rule_id)
    return result


def agent_for(session: Session, code: str, name: str | None = None, team: str | None = None) -> Agent:
    """The agent with this 工号, created when new; a name or team given updates theirs."""
    with session.no_autoflush:
        agent = session.scalar(select(Agent).where(Agent.code == code))
        if agent is None:
            agent = Agent(code=code)
            session.add(agent)
        if name:
            agent.name = name
        if team:
            agent.team = session.scalar(select(Team).where(Team.name == team)) or Team(name=team)
    return agent
