"""Review work given to monitors by a QA lead: flagged calls (a number each, or all of them
evenly) and a sample of the calls the machine did not flag, so that its misses are found too
(SCA's AssignReviewer, NICE's sampling plans)."""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import cycle

from sqlalchemy import select
from sqlalchemy.orm import Session

from qcpipe import audit
from qcpipe.accounts.roles import ROLE_PERMISSIONS, Permission, Viewer
from qcpipe.errors import QcpipeError
from qcpipe.periods import days_period
from qcpipe.review.worklist import ReviewState, WorklistFilters, worklist
from qcpipe.store.models import Call, CallStatus, FindingRecord, ReviewAssignment, User


class AssignmentError(QcpipeError):
    """Review work that cannot be given (no such monitor, nothing to assign …)."""


@dataclass(frozen=True)
class Assigned:
    """What an assignment did: calls given to each monitor."""

    per_monitor: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_monitor.values())


def assign_flagged(
    session: Session, lead: Viewer, monitors: list[str], *, each: int | None, filters: WorklistFilters,
    timezone: str, now: datetime,
) -> Assigned:
    """Give flagged calls no one has yet, worst first: `each` to every monitor, or (None) all of
    them evenly, one by one in turn."""
    monitors = _reviewers(session, monitors)
    if each is not None and each < 1:
        raise AssignmentError("give each monitor 1 call or more")
    wanted = None if each is None else each * len(monitors)
    calls: list[str] = []
    page = 1
    while wanted is None or len(calls) < wanted:
        listing = worklist(session, lead, replace(filters, state=ReviewState.OPEN, assigned_to=None),
                           timezone=timezone, page=page, page_size=500)
        calls += [row.call_id for row in listing.rows if row.assigned_to is None]
        if page >= listing.pages:
            break
        page += 1
    return _give(session, calls[:wanted] if wanted is not None else calls, monitors, "flagged", lead.username, now)


def sample_unflagged(
    session: Session, lead: Viewer, monitors: list[str], *, week_of: date, percent: float, timezone: str,
    now: datetime,
) -> Assigned:
    """For each agent, `percent` % of their calls of the week (Monday to Sunday around `week_of`)
    that have no finding and no monitor yet, at least one where they have any, chosen at random
    (the same choice for the same week and agent), given to the monitors in turn."""
    if not 0 < percent <= 100:
        raise AssignmentError(f"the sample is a percentage above 0 and up to 100, not {percent:g}")
    monitors = _reviewers(session, monitors)
    monday = week_of - timedelta(days=week_of.weekday())
    period = days_period(timezone, since=monday, until=monday + timedelta(days=6))
    with_findings = select(FindingRecord.call_pk)
    assigned = select(ReviewAssignment.call_pk)
    rows = session.execute(
        select(Call.id, Call.call_id, Call.agent_id).where(
            Call.status == CallStatus.DONE, Call.qa_score.is_not(None), Call.agent_id.is_not(None),
            lead.call_scope(), Call.started_at >= period.start, Call.started_at < period.end,
            Call.id.not_in(with_findings), Call.id.not_in(assigned),
        ).order_by(Call.call_id)
    ).all()
    by_agent: dict[int, list[str]] = defaultdict(list)
    for _, call_id, agent_pk in rows:
        by_agent[agent_pk].append(call_id)
    chosen: list[str] = []
    for agent_pk, calls in sorted(by_agent.items()):
        seed = hashlib.sha256(f"{monday}:{agent_pk}".encode()).digest()
        chosen += random.Random(seed).sample(calls, max(1, math.ceil(len(calls) * percent / 100)))
    return _give(session, chosen, monitors, "sample", lead.username, now)


def finish_assignment(session: Session, call_id: str, monitor: str, now: datetime) -> bool:
    """The monitor is done with a call given to them. False when it was not theirs (or done)."""
    assignment = session.scalar(
        select(ReviewAssignment).join(Call, ReviewAssignment.call_pk == Call.id).where(
            Call.call_id == call_id, ReviewAssignment.monitor == monitor, ReviewAssignment.done_at.is_(None))
    )
    if assignment is None:
        return False
    assignment.done_at = now
    audit.record(session, monitor, "assignment.done", "call", call_id, at=now)
    return True


def monitors_of(session: Session) -> list[str]:
    """The names of active accounts that may review (for the QA lead's form)."""
    roles = [role.value for role, allowed in ROLE_PERMISSIONS.items() if Permission.REVIEW in allowed]
    return list(session.scalars(select(User.username).where(User.role.in_(roles), User.disabled.is_(False))
                                .order_by(User.username)))


def _reviewers(session: Session, names: list[str]) -> list[str]:
    names = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not names:
        raise AssignmentError("choose at least one monitor")
    allowed = set(monitors_of(session))
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise AssignmentError(f"not an active monitor: {', '.join(unknown)}")
    return names


def _give(session: Session, call_ids: list[str], monitors: list[str], reason: str, by: str, now: datetime) -> Assigned:
    if not call_ids:
        raise AssignmentError("no calls to assign: every call that matches is assigned already")
    pks = dict(session.execute(select(Call.call_id, Call.id).where(Call.call_id.in_(call_ids))).all())
    per_monitor = dict.fromkeys(monitors, 0)
    for call_id, monitor in zip(call_ids, cycle(monitors)):
        session.add(ReviewAssignment(call_pk=pks[call_id], monitor=monitor, reason=reason, assigned_by=by, assigned_at=now))
        per_monitor[monitor] += 1
    audit.record(session, by, f"assignment.{reason}", "calls", len(call_ids),
                 ", ".join(f"{m}: {n}" for m, n in per_monitor.items()), at=now)
    return Assigned(per_monitor)
