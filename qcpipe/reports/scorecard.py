"""An agent's scorecard: their month as the monthly report counts it, their last six months, how
they do on each check against their team, their appeals and the calls of theirs to listen to first.

The month's score, ranks, flags and compliance are the monthly report's own (`monthly_report`):
the scorecard never disagrees with the report a team leader reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from statistics import fmean

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qcpipe.periods import month_bounds, month_of, previous_month
from qcpipe.reports.monthly import MonthlyReport, MonthlyScore, MonthPoint, one_decimal, monthly_report
from qcpipe.scoring.records import NOT_DEDUCTING
from qcpipe.store import Agent, Call, CallStatus, FindingRecord
from qcpipe.store.models import Appeal, AppealStatus

TREND_MONTHS = 6
WORST_CALLS = 5


@dataclass(frozen=True)
class CheckComparison:
    """One check this month, the agent against their team. A miss is a finding that deducts (open
    or confirmed: not overturned, not uncertain). Per 100 calls: misses per 100 calls of the month.
    Compliance: the monthly report's (share of the calls the check concerned that kept it); the
    team's is its agents' mean. None where there is nothing to count."""

    rule_id: str
    title: str
    misses: int
    per_100_calls: float | None
    team_per_100_calls: float | None
    compliance: float | None
    team_compliance: float | None

    @property
    def worse_than_team(self) -> bool:
        return (self.per_100_calls is not None and self.team_per_100_calls is not None
                and self.per_100_calls > self.team_per_100_calls)


@dataclass(frozen=True)
class AppealLine:
    appeal_id: int
    call_id: str
    rule_id: str
    title: str
    reason: str
    filed_at: datetime
    status: AppealStatus
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None


@dataclass(frozen=True)
class CallLine:
    """One of the agent's calls of the month, lowest score first: what to listen to."""

    call_id: str
    started_at: datetime | None
    score: float
    misses: int
    rules: tuple[str, ...]  # the checks it missed


@dataclass(frozen=True)
class Scorecard:
    agent_id: str
    agent_name: str | None
    team: str | None
    month: str
    pass_line: float
    line: MonthlyScore | None  # the agent's line of the month's report; None without scored calls
    team_agents: int  # agents of the team with scored calls this month
    center_agents: int
    trend: tuple[MonthPoint, ...]  # the last TREND_MONTHS months that have calls, oldest first
    trend_months: tuple[str, ...]  # the TREND_MONTHS calendar months ending at `month`
    checks: tuple[CheckComparison, ...]
    appeals: tuple[AppealLine, ...]  # pending ones, and those filed or ruled this month
    worst_calls: tuple[CallLine, ...]

    @property
    def label(self) -> str:
        return f"{self.agent_id} {self.agent_name}" if self.agent_name else self.agent_id

    def title_of(self, rule_id: str) -> str:
        return next((check.title for check in self.checks if check.rule_id == rule_id), rule_id)

    @property
    def trend_by_month(self) -> dict[str, MonthPoint]:
        return {point.month: point for point in self.trend}

    @property
    def pending_appeals(self) -> int:
        return sum(1 for appeal in self.appeals if appeal.status == AppealStatus.PENDING)

    @property
    def chart_line(self) -> MonthlyScore:
        """The agent's line carrying the six-month trend, as the monthly report's trend chart draws it."""
        if self.line is not None:
            return replace(self.line, trend=self.trend)
        return MonthlyScore(agent_id=self.agent_id, agent_name=self.agent_name, team=self.team, calls=0, score=0.0,
                            compliance={}, rank_in_team=0, rank_in_center=0, change=None, flags=(), trend=self.trend)


def scorecard(
    session: Session,
    agent: Agent,
    month: str,
    *,
    pass_line: float,
    timezone: str,
    rule_ids: Sequence[str],
    rule_titles: Mapping[str, str] | None = None,
) -> Scorecard:
    """`agent`'s scorecard of `month` ('YYYY-MM', center time). The caller decides who may see it
    (`qcpipe.reports.monthly_scope.visible_agent`)."""
    team = agent.team.name if agent.team is not None else None
    report = monthly_report(session, month, team=team, pass_line=pass_line, timezone=timezone, rule_ids=rule_ids,
                            rule_titles=rule_titles)
    month = report.month
    line = next((a for a in report.agents if a.agent_id == agent.code), None)
    # The report lists the agent's team; an agent of no team is compared with the whole center.
    team_lines = list(report.agents)
    start, end = month_bounds(month, timezone)
    months = [month]
    while len(months) < TREND_MONTHS:
        months.append(previous_month(months[-1]))
    months.reverse()
    return Scorecard(
        agent_id=agent.code,
        agent_name=agent.name,
        team=team,
        month=month,
        pass_line=pass_line,
        line=line,
        team_agents=len(team_lines),
        center_agents=report.center_agents,
        trend=_trend(session, agent, month_bounds(months[0], timezone)[0], end, timezone),
        trend_months=tuple(months),
        checks=_checks(session, report, agent, line, team_lines, start, end),
        appeals=_appeals(session, agent, start, end, rule_titles or {}),
        worst_calls=_worst_calls(session, agent, start, end),
    )


_SCORED = (Call.status == CallStatus.DONE, Call.qa_score.is_not(None), Call.started_at.is_not(None))
_DEDUCTING = FindingRecord.status.not_in(NOT_DEDUCTING)


def _trend(session: Session, agent: Agent, start: datetime, end: datetime, timezone: str) -> tuple[MonthPoint, ...]:
    scores: dict[str, list[float]] = {}
    query = select(Call.started_at, Call.qa_score).where(
        *_SCORED, Call.agent_id == agent.id, Call.started_at >= start, Call.started_at < end)
    for started_at, score in session.execute(query):
        scores.setdefault(month_of(started_at, timezone), []).append(score)
    return tuple(MonthPoint(m, one_decimal(fmean(values)), len(values)) for m, values in sorted(scores.items()))


def _checks(session: Session, report: MonthlyReport, agent: Agent, line: MonthlyScore | None,
            team_lines: Sequence[MonthlyScore], start: datetime, end: datetime) -> tuple[CheckComparison, ...]:
    team_calls = sum(a.calls for a in team_lines)
    codes = [a.agent_id for a in team_lines]
    misses: Counter[tuple[str, str]] = Counter()  # (agent code, rule id) → misses
    if codes:
        query = (
            select(Agent.code, FindingRecord.rule_id, func.count())
            .join(Call, FindingRecord.call_pk == Call.id).join(Agent, Call.agent_id == Agent.id)
            .where(*_SCORED, Agent.code.in_(codes), Call.started_at >= start, Call.started_at < end, _DEDUCTING)
            .group_by(Agent.code, FindingRecord.rule_id)
        )
        misses.update({(code, rule): n for code, rule, n in session.execute(query)})
    own_calls = line.calls if line is not None else 0
    checks = []
    for rule_id in report.rule_ids:
        own = misses[(agent.code, rule_id)]
        team_total = sum(misses[(code, rule_id)] for code in codes)
        rates = [a.compliance.get(rule_id) for a in team_lines]
        kept = [rate for rate in rates if rate is not None]
        checks.append(CheckComparison(
            rule_id=rule_id,
            title=report.title_of(rule_id),
            misses=own,
            per_100_calls=round(100 * own / own_calls, 1) if own_calls else None,
            team_per_100_calls=round(100 * team_total / team_calls, 1) if team_calls else None,
            compliance=line.compliance.get(rule_id) if line is not None else None,
            team_compliance=fmean(kept) if kept else None,
        ))
    return tuple(checks)


def _appeals(session: Session, agent: Agent, start: datetime, end: datetime,
             titles: Mapping[str, str]) -> tuple[AppealLine, ...]:
    query = (
        select(Appeal, FindingRecord.rule_id, FindingRecord.title, Call.call_id)
        .join(FindingRecord, Appeal.finding_id == FindingRecord.id).join(Call, FindingRecord.call_pk == Call.id)
        .where(Call.agent_id == agent.id, or_(
            Appeal.status == AppealStatus.PENDING,
            (Appeal.filed_at >= start) & (Appeal.filed_at < end),
            (Appeal.decided_at >= start) & (Appeal.decided_at < end),
        ))
        .order_by(Appeal.filed_at.desc(), Appeal.id.desc())
        .limit(50)
    )
    return tuple(
        AppealLine(appeal_id=appeal.id, call_id=call_id, rule_id=rule_id, title=titles.get(rule_id, title),
                   reason=appeal.reason, filed_at=appeal.filed_at, status=AppealStatus(appeal.status),
                   decided_by=appeal.decided_by, decided_at=appeal.decided_at, comment=appeal.decision_comment)
        for appeal, rule_id, title, call_id in session.execute(query)
    )


def _worst_calls(session: Session, agent: Agent, start: datetime, end: datetime) -> tuple[CallLine, ...]:
    calls = list(session.execute(
        select(Call.id, Call.call_id, Call.started_at, Call.qa_score)
        .where(*_SCORED, Call.agent_id == agent.id, Call.started_at >= start, Call.started_at < end)
        .order_by(Call.qa_score, Call.started_at.desc(), Call.call_id)
        .limit(WORST_CALLS)
    ))
    rules: dict[int, list[str]] = {}
    if calls:
        for call_pk, rule_id in session.execute(
            select(FindingRecord.call_pk, FindingRecord.rule_id)
            .where(FindingRecord.call_pk.in_([pk for pk, *_ in calls]), _DEDUCTING)
            .order_by(FindingRecord.start_s)
        ):
            rules.setdefault(call_pk, []).append(rule_id)
    return tuple(
        CallLine(call_id=call_id, started_at=started_at, score=score, misses=len(rules.get(pk, ())),
                 rules=tuple(dict.fromkeys(rules.get(pk, ()))))
        for pk, call_id, started_at, score in calls
    )
