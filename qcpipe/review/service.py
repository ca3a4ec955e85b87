"""The review workflow. Every decision is a new row (who, when, why): nothing is overwritten.

- A monitor confirms or overturns a finding; an overturned finding stops deducting and the
  call's score is recomputed. A finding can be reviewed again; the latest decision counts.
- An agent may appeal a finding of one of their own calls within the appeal window (days
  after the finding was raised). While the appeal is pending the finding waits for the
  ruling; the monitor's ruling on it is final: no further review or appeal of that finding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from qcpipe.calls import FindingView
from qcpipe.config import PrivacySettings
from qcpipe.errors import NotFoundError, QcpipeError
from qcpipe.periods import DEFAULT_TIMEZONE, Period, month_bounds
from qcpipe.store import Agent, Call, FindingRecord, FindingStatus, Team
from qcpipe.store.models import Appeal, AppealStatus, FindingReview, ReviewDecision
from qcpipe.scoring.records import update_call_score


class ReviewError(QcpipeError):
    """A review or appeal that the workflow does not allow (final ruling, window passed …)."""


@dataclass(frozen=True)
class FlaggedCall:
    """A call with open findings, for the monitor's queue."""

    call_id: str
    agent_id: str | None
    agent_name: str | None
    team: str | None
    started_at: datetime | None
    score: float | None
    findings: tuple[FindingView, ...]


@dataclass(frozen=True)
class HistoryEntry:
    """One event in a finding's life: a review or an appeal (filed, ruled)."""

    at: datetime
    what: str
    who: str
    comment: str


@dataclass(frozen=True)
class RuleCalibration:
    """How monitors judged the machine on one check: precision as reviewed = confirmed / reviewed."""

    rule_id: str
    findings: int
    reviewed: int
    confirmed: int
    overturned: int

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.reviewed if self.reviewed else None


def flagged_calls(
    session: Session,
    privacy: PrivacySettings,
    *,
    period: Period = Period(),
    team: str | None = None,
    agent: str | None = None,
    rule: str | None = None,
) -> list[FlaggedCall]:
    """Calls with open findings (matching the filters) started in `period`, worst score first."""
    open_findings = select(FindingRecord.call_pk).where(FindingRecord.status == FindingStatus.OPEN)
    if rule is not None:
        open_findings = open_findings.where(FindingRecord.rule_id == rule)
    # A subquery, not a join + DISTINCT: PostgreSQL cannot compare the calls' JSON columns.
    query = select(Call).where(Call.id.in_(open_findings)).options(
        selectinload(Call.findings), selectinload(Call.agent).selectinload(Agent.team)
    )
    if period.start is not None:
        query = query.where(Call.started_at >= period.start)
    if period.end is not None:
        query = query.where(Call.started_at < period.end)
    if agent is not None or team is not None:
        query = query.join(Agent, Call.agent_id == Agent.id)
        if agent is not None:
            query = query.where(Agent.code == agent)
        if team is not None:
            query = query.join(Team, Agent.team_id == Team.id).where(Team.name == team)
    calls = sorted(session.scalars(query), key=lambda c: (c.qa_score if c.qa_score is not None else 100, c.call_id))
    return [
        FlaggedCall(
            call_id=call.call_id,
            agent_id=call.agent.code if call.agent else None,
            agent_name=call.agent.name if call.agent else None,
            team=call.agent.team.name if call.agent and call.agent.team else None,
            started_at=call.started_at,
            score=call.qa_score,
            findings=tuple(FindingView.of(f, privacy) for f in call.findings if f.status == FindingStatus.OPEN),
        )
        for call in calls
    ]


def review_finding(
    session: Session, finding_id: int, *, confirm: bool, reviewer: str, comment: str = "", now: datetime
) -> FindingRecord:
    """Confirm or overturn a finding; the call's score follows."""
    finding = _finding(session, finding_id)
    _refuse_if_final(finding)
    if pending := _pending_appeal(finding):
        raise ReviewError(f"finding {finding_id} has a pending appeal ({pending.id}): rule on it with `qcpipe appeal-decide {pending.id}`")
    _decide(finding, confirm=confirm, reviewer=reviewer, comment=comment, now=now)
    return finding


def file_appeal(
    session: Session, finding_id: int, *, agent: str, reason: str, window_days: int, now: datetime
) -> Appeal:
    """An agent appeals a finding of one of their calls, within the appeal window."""
    finding = _finding(session, finding_id)
    call_agent = finding.call.agent.code if finding.call.agent else None
    if call_agent != agent:
        raise ReviewError(f"finding {finding_id} is on a call of agent {call_agent or '(unknown)'}, not {agent}")
    if finding.status == FindingStatus.OVERTURNED:
        raise ReviewError(f"finding {finding_id} is already overturned: nothing to appeal")
    _refuse_if_final(finding)
    if pending := _pending_appeal(finding):
        raise ReviewError(f"finding {finding_id} already has a pending appeal ({pending.id})")
    deadline = finding.created_at + timedelta(days=window_days)
    if now > deadline:
        raise ReviewError(
            f"the appeal window for finding {finding_id} closed on {deadline:%Y-%m-%d %H:%M} UTC "
            f"({window_days} days after it was raised)"
        )
    if not reason.strip():
        raise ReviewError("an appeal needs a reason")
    appeal = Appeal(agent=agent, reason=reason.strip(), filed_at=now, status=AppealStatus.PENDING)
    finding.appeals.append(appeal)
    session.flush()
    return appeal


def decide_appeal(
    session: Session, appeal_id: int, *, uphold: bool, by: str, comment: str = "", now: datetime
) -> Appeal:
    """The monitor's final ruling: upheld → the finding is overturned; rejected → confirmed."""
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFoundError(f"no appeal {appeal_id}")
    if appeal.status != AppealStatus.PENDING:
        raise ReviewError(f"appeal {appeal_id} was already ruled {appeal.status} by {appeal.decided_by}: the ruling is final")
    appeal.status = AppealStatus.UPHELD if uphold else AppealStatus.REJECTED
    appeal.decided_by, appeal.decided_at, appeal.decision_comment = by, now, comment
    _decide(appeal.finding, confirm=not uphold, reviewer=by, comment=comment, now=now, appeal=appeal)
    return appeal


def finding_history(
    session: Session, finding_id: int, privacy: PrivacySettings
) -> tuple[FindingView, list[HistoryEntry]]:
    """A finding and everything decided about it, oldest first."""
    finding = _finding(session, finding_id)
    events = [
        HistoryEntry(r.decided_at, f"{r.decision}{' (appeal ruling)' if r.appeal_id else ''}", r.reviewer, r.comment)
        for r in finding.reviews
    ]
    for appeal in finding.appeals:
        events.append(HistoryEntry(appeal.filed_at, f"appeal {appeal.id} filed", appeal.agent, appeal.reason))
    return FindingView.of(finding, privacy), sorted(events, key=lambda e: e.at)


def calibration(session: Session, *, month: str | None = None, timezone: str = DEFAULT_TIMEZONE) -> list[RuleCalibration]:
    """Per check: findings raised, reviewed, confirmed, overturned (latest decision counts)."""
    query = select(FindingRecord.rule_id, FindingRecord.status).join(Call, FindingRecord.call_pk == Call.id)
    if month is not None:
        start, end = month_bounds(month, timezone)
        query = query.where(Call.started_at >= start, Call.started_at < end)
    counts = Counter((rule, status) for rule, status in session.execute(query))
    rules = sorted({rule for rule, _ in counts})
    result = []
    for rule in rules:
        confirmed, overturned = counts[(rule, FindingStatus.CONFIRMED)], counts[(rule, FindingStatus.OVERTURNED)]
        total = confirmed + overturned + counts[(rule, FindingStatus.OPEN)]
        result.append(RuleCalibration(rule, total, confirmed + overturned, confirmed, overturned))
    return result


def _finding(session: Session, finding_id: int) -> FindingRecord:
    finding = session.get(FindingRecord, finding_id, options=[selectinload(FindingRecord.reviews)])
    if finding is None:
        raise NotFoundError(f"no finding {finding_id}")
    return finding


def _pending_appeal(finding: FindingRecord) -> Appeal | None:
    return next((a for a in finding.appeals if a.status == AppealStatus.PENDING), None)


def _refuse_if_final(finding: FindingRecord) -> None:
    ruled = next((a for a in finding.appeals if a.status != AppealStatus.PENDING), None)
    if ruled is not None:
        raise ReviewError(
            f"finding {finding.id} was ruled on appeal {ruled.id} ({ruled.status} by {ruled.decided_by}): the ruling is final"
        )


def _decide(
    finding: FindingRecord, *, confirm: bool, reviewer: str, comment: str, now: datetime, appeal: Appeal | None = None
) -> None:
    if not reviewer.strip():
        raise ReviewError("a decision needs the reviewer's name (--by)")
    decision = ReviewDecision.CONFIRM if confirm else ReviewDecision.OVERTURN
    finding.reviews.append(
        FindingReview(decision=decision, reviewer=reviewer, comment=comment, decided_at=now, appeal_id=appeal.id if appeal else None)
    )
    finding.status = FindingStatus.CONFIRMED if confirm else FindingStatus.OVERTURNED
    update_call_score(finding.call)
