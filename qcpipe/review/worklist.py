"""The monitors' worklist: calls to look at, worst first, with filters, pages and counts.

The work does not grow with the size of the center more than it must: the viewer's scope and the
filters are WHERE clauses (the state of a call's findings an EXISTS on ix_findings_call_status_rule),
the page's calls are read in ix_calls_worklist's order without sorting the month, and the findings
are counted for that page only; only the totals read every matching call, from indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Exists, and_, case, distinct, func, select
from sqlalchemy.orm import Session, selectinload

from qcpipe.paging import PageCount
from qcpipe.accounts.roles import Viewer
from qcpipe.calls import UNDECIDED
from qcpipe.periods import days_period
from qcpipe.scoring.records import NOT_DEDUCTING
from qcpipe.store.models import Agent, Call, CallStatus, FindingRecord, FindingStatus, ReviewAssignment, Team

PAGE_SIZE = 50


class ReviewState(StrEnum):
    """Which calls by the state of their findings."""

    OPEN = "open"  # with findings no monitor has decided yet, open or uncertain (the flagged calls)
    UNCERTAIN = "uncertain"  # with uncertain findings (doubtful evidence, deducting nothing until confirmed)
    REVIEWED = "reviewed"  # with findings, all decided
    CLEAN = "clean"  # no finding at all
    DEDUCTING = "deducting"  # with findings that cost points (open or confirmed): a report's misses
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
    open_findings: int  # open: deducting, not yet ruled on
    findings: int
    assigned_to: str | None
    uncertain_findings: int = 0  # uncertain: not yet ruled on, deducting nothing until confirmed

    @property
    def undecided(self) -> int:
        return self.open_findings + self.uncertain_findings


@dataclass(frozen=True)
class WorklistPage(PageCount):
    rows: tuple[WorklistRow, ...]
    total: int  # calls matching the filters
    open_findings: int  # open findings on those calls
    page: int
    page_size: int
    filters: WorklistFilters = field(default_factory=WorklistFilters)
    uncertain_findings: int = 0  # uncertain findings on those calls


def worklist(
    session: Session, viewer: Viewer, filters: WorklistFilters, *, timezone: str, page: int = 1,
    page_size: int = PAGE_SIZE,
) -> WorklistPage:
    """The calls the viewer may see that match `filters`, worst score first (then newest)."""
    # Observations (noted: checks that deduct nothing) are shown with the call, not review work:
    # they neither list a call here nor keep it from being clean.
    finding_filter = [FindingRecord.status != FindingStatus.NOTED,
                      *([FindingRecord.rule_id == filters.rule] if filters.rule else [])]
    is_open = FindingRecord.status == FindingStatus.OPEN
    is_uncertain = FindingRecord.status == FindingStatus.UNCERTAIN
    undecided = FindingRecord.status.in_(UNDECIDED)

    def with_findings(*more: ColumnElement[bool]) -> Exists:
        # SELECT call_pk, not *: SQLite then reads the index alone
        return select(FindingRecord.call_pk).where(FindingRecord.call_pk == Call.id, *finding_filter, *more).exists()

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
    if filters.assigned_to:
        conditions.append(Call.id.in_(select(ReviewAssignment.call_pk).where(
            ReviewAssignment.monitor == filters.assigned_to, ReviewAssignment.done_at.is_(None))))
    state: list[ColumnElement[bool]] = []  # what the call's findings must be
    if filters.state is ReviewState.OPEN:
        state.append(with_findings(undecided))
    elif filters.state is ReviewState.UNCERTAIN:
        state.append(with_findings(is_uncertain))
    elif filters.state is ReviewState.REVIEWED:
        state.append(and_(with_findings(), ~with_findings(undecided)))
    elif filters.state is ReviewState.CLEAN:
        state.append(~with_findings())
    elif filters.state is ReviewState.DEDUCTING:
        state.append(with_findings(FindingRecord.status.not_in(NOT_DEDUCTING)))
    elif filters.rule:
        state.append(with_findings())
    if filters.state is ReviewState.OPEN:
        # Each call listed has findings not yet ruled on: counting those findings counts the calls
        # too, in one pass.
        totals = select(func.count(distinct(FindingRecord.call_pk)), func.sum(case((is_open, 1), else_=0)),
                        func.sum(case((is_uncertain, 1), else_=0))).join(
            Call, Call.id == FindingRecord.call_pk).where(undecided, *finding_filter, *conditions)
    else:
        def count_here(status: ColumnElement[bool]):  # noqa: ANN202 - a scalar subquery
            return select(func.count()).where(FindingRecord.call_pk == Call.id, status, *finding_filter).scalar_subquery()

        totals = select(func.count(), func.sum(count_here(is_open)), func.sum(count_here(is_uncertain))).select_from(
            Call).where(*conditions, *state)
    total, open_total, uncertain_total = session.execute(totals).one()
    open_total, uncertain_total = int(open_total or 0), int(uncertain_total or 0)
    page = max(1, page)
    # The page's keys first (ix_calls_worklist gives this order without sorting), then its rows.
    ids = list(session.scalars(
        select(Call.id).where(*conditions, *state)
        .order_by(Call.qa_score.is_(None), Call.qa_score, Call.started_at.desc(), Call.call_id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ))
    if not ids:
        return WorklistPage((), int(total), open_total, page, page_size, filters, uncertain_total)
    calls = {call.id: call for call in session.scalars(
        select(Call).where(Call.id.in_(ids)).options(selectinload(Call.agent).selectinload(Agent.team)))}
    counts = {pk: (int(all_n), int(open_n), int(uncertain_n)) for pk, all_n, open_n, uncertain_n in session.execute(
        select(FindingRecord.call_pk, func.count(), func.sum(case((is_open, 1), else_=0)),
               func.sum(case((is_uncertain, 1), else_=0)))
        .where(FindingRecord.call_pk.in_(ids), *finding_filter).group_by(FindingRecord.call_pk))}
    assigned = dict(session.execute(
        select(ReviewAssignment.call_pk, ReviewAssignment.monitor).where(
            ReviewAssignment.call_pk.in_(ids), ReviewAssignment.done_at.is_(None))
    ).all())
    rows = []
    for pk in ids:
        call = calls[pk]
        all_n, open_n, uncertain_n = counts.get(pk, (0, 0, 0))
        rows.append(WorklistRow(
            call_id=call.call_id, agent_id=call.agent.code if call.agent else None,
            agent_name=call.agent.name if call.agent else None,
            team=call.agent.team.name if call.agent and call.agent.team else None, started_at=call.started_at,
            duration_s=call.duration_s, score=call.qa_score, open_findings=open_n, findings=all_n,
            assigned_to=assigned.get(pk), uncertain_findings=uncertain_n,
        ))
    return WorklistPage(tuple(rows), int(total), open_total, page, page_size, filters, uncertain_total)


def next_call(session: Session, viewer: Viewer, after_call_id: str, filters: WorklistFilters, *,
              timezone: str) -> str | None:
    """The call to open after `after_call_id` (the `n` key): the one after it in the worklist, or,
    when it has left the list (its findings all decided), the worst one left. None when none is."""
    rows = [row.call_id for row in worklist(session, viewer, filters, timezone=timezone, page_size=200).rows]
    if after_call_id in rows:
        later = rows[rows.index(after_call_id) + 1:]
        return later[0] if later else None
    return rows[0] if rows else None
