"""The monitors' worklist: calls to look at, worst first, with filters, pages and counts.

One query does the work whatever the size of the center: open findings are counted per call in
a subquery, the viewer's scope and the filters are WHERE clauses, and only one page of calls is
loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, selectinload

from qcpipe.accounts.roles import Viewer
from qcpipe.periods import days_period
from qcpipe.store.models import Agent, Call, CallStatus, FindingRecord, FindingStatus, ReviewAssignment, Team

PAGE_SIZE = 50


class ReviewState(StrEnum):
    """Which calls by the state of their findings."""

    OPEN = "open"  # with findings no monitor has decided yet (the flagged calls)
    REVIEWED = "reviewed"  # with findings, all decided
    CLEAN = "clean"  # no finding at all
    ANY = "any"


@dataclass(frozen=True)
class WorklistFilters:
    """What a monitor narrows the list to. Dates are days in the center's time zone, both included."""

    date_from: date | None = None
    date_to: date | None = None
    team: str | None = None
    agent: str | None = None
    rule: str | None = None
    state: ReviewState = ReviewState.OPEN
    score_below: float | None = None
    assigned_to: str | None = None  # "my queue": calls assigned to this monitor, not yet done


@dataclass(frozen=True)
class WorklistRow:
    call_id: str
    agent_id: str | None
    agent_name: str | None
    team: str | None
    started_at: datetime | None
    duration_s: float | None
    score: float | None
    open_findings: int
    findings: int
    assigned_to: str | None


@dataclass(frozen=True)
class WorklistPage:
    rows: tuple[WorklistRow, ...]
    total: int  # calls matching the filters
    open_findings: int  # open findings on those calls
    page: int
    page_size: int
    filters: WorklistFilters = field(default_factory=WorklistFilters)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def worklist(
    session: Session, viewer: Viewer, filters: WorklistFilters, *, timezone: str, page: int = 1,
    page_size: int = PAGE_SIZE,
) -> WorklistPage:
    """The calls the viewer may see that match `filters`, worst score first (then newest)."""
    finding_filter = [FindingRecord.rule_id == filters.rule] if filters.rule else []
    counts = (
        select(
            FindingRecord.call_pk.label("call_pk"),
            func.count().label("findings"),
            func.sum(case((FindingRecord.status == FindingStatus.OPEN, 1), else_=0)).label("open"),
        )
        .where(*finding_filter)
        .group_by(FindingRecord.call_pk)
        .subquery()
    )
    open_count = func.coalesce(counts.c.open, 0)
    all_count = func.coalesce(counts.c.findings, 0)
    conditions = [Call.status == CallStatus.DONE, viewer.call_scope()]
    period = days_period(timezone, since=filters.date_from, until=filters.date_to)
    if period.start is not None:
        conditions.append(Call.started_at >= period.start)
    if period.end is not None:
        conditions.append(Call.started_at < period.end)
    if filters.agent:
        conditions.append(Call.agent_id.in_(select(Agent.id).where(Agent.code == filters.agent)))
    if filters.team:
        conditions.append(Call.agent_id.in_(select(Agent.id).join(Team, Agent.team_id == Team.id).where(Team.name == filters.team)))
    if filters.score_below is not None:
        conditions.append(Call.qa_score < filters.score_below)
    if filters.state is ReviewState.OPEN:
        conditions.append(open_count > 0)
    elif filters.state is ReviewState.REVIEWED:
        conditions.append(and_(all_count > 0, open_count == 0))
    elif filters.state is ReviewState.CLEAN:
        conditions.append(all_count == 0)
    elif filters.rule:
        conditions.append(all_count > 0)
    if filters.assigned_to:
        conditions.append(Call.id.in_(select(ReviewAssignment.call_pk).where(
            ReviewAssignment.monitor == filters.assigned_to, ReviewAssignment.done_at.is_(None))))
    base = select(Call).outerjoin(counts, counts.c.call_pk == Call.id).where(*conditions)
    total, open_total = session.execute(
        select(func.count(), func.coalesce(func.sum(open_count), 0)).select_from(Call).outerjoin(
            counts, counts.c.call_pk == Call.id).where(*conditions)
    ).one()
    page = max(1, page)
    query = (
        base.add_columns(open_count, all_count)
        .options(selectinload(Call.agent).selectinload(Agent.team))
        .order_by(Call.qa_score.is_(None), Call.qa_score, Call.started_at.desc(), Call.call_id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    found = session.execute(query).all()
    assigned = dict(session.execute(
        select(ReviewAssignment.call_pk, ReviewAssignment.monitor).where(
            ReviewAssignment.call_pk.in_([call.id for call, _, _ in found]), ReviewAssignment.done_at.is_(None))
    ).all()) if found else {}
    rows = tuple(
        WorklistRow(
            call_id=call.call_id, agent_id=call.agent.code if call.agent else None,
            agent_name=call.agent.name if call.agent else None,
            team=call.agent.team.name if call.agent and call.agent.team else None, started_at=call.started_at,
            duration_s=call.duration_s, score=call.qa_score, open_findings=int(open_n), findings=int(all_n),
            assigned_to=assigned.get(call.id),
        )
        for call, open_n, all_n in found
    )
    return WorklistPage(rows, int(total), int(open_total), page, page_size, filters)


def next_call(session: Session, viewer: Viewer, after_call_id: str, filters: WorklistFilters, *,
              timezone: str) -> str | None:
    """The call to open after `after_call_id` (the `n` key): the one after it in the worklist, or,
    when it has left the list (its findings all decided), the worst one left. None when none is."""
    rows = [row.call_id for row in worklist(session, viewer, filters, timezone=timezone, page_size=200).rows]
    if after_call_id in rows:
        later = rows[rows.index(after_call_id) + 1:]
        return later[0] if later else None
    return rows[0] if rows else None
