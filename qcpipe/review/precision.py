"""Calibration: how often the monitors agree with the machine, per check and month (precision as reviewed).

A finding a monitor confirmed counts as confirmed; one overturned, by a monitor or by an appeal
upheld, as overturned (the latest decision counts, as the finding's status says). Precision as
reviewed = confirmed / (confirmed + overturned). Findings not yet ruled on (open or uncertain)
are counted apart: a check whose findings are mostly unreviewed has a precision of few. The
month is the month the call was made in, in the center's calendar, so a rulebook change shows
as a change between months. Observations (checks that deduct nothing) are not the monitors' to
judge and are left out.

The overturned findings of a check, with what each monitor wrote, are the rules to fix.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from qcpipe.calls import shown_quote
from qcpipe.config import PrivacySettings
from qcpipe.periods import DEFAULT_TIMEZONE, month_bounds, parse_month, previous_month
from qcpipe.store import Agent, Call, FindingRecord, FindingStatus
from qcpipe.store.models import Appeal, FindingReview, ReviewDecision

DEFAULT_MONTHS = 6


@dataclass(frozen=True)
class MonthCounts:
    """One check's findings in one month, by where the monitors stand on them."""

    confirmed: int = 0
    overturned: int = 0
    unreviewed: int = 0  # open or uncertain: not yet ruled on

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.overturned

    @property
    def precision(self) -> float | None:
        """confirmed / reviewed; None when nothing was reviewed."""
        return self.confirmed / self.reviewed if self.reviewed else None

    def __add__(self, other: MonthCounts) -> MonthCounts:
        return MonthCounts(self.confirmed + other.confirmed, self.overturned + other.overturned,
                           self.unreviewed + other.unreviewed)


@dataclass(frozen=True)
class CheckCalibration:
    """One check: its counts per month (in the order of `Calibration.months`) and in all."""

    rule_id: str
    title: str
    months: tuple[MonthCounts, ...]

    @property
    def total(self) -> MonthCounts:
        result = MonthCounts()
        for counts in self.months:
            result = result + counts
        return result

    @property
    def latest(self) -> MonthCounts:
        return self.months[-1]


@dataclass(frozen=True)
class Calibration:
    """The checks (worst precision in all first) over consecutive months, oldest first."""

    months: tuple[str, ...]
    checks: tuple[CheckCalibration, ...]

    @property
    def month(self) -> str:
        """The last month shown."""
        return self.months[-1]


@dataclass(frozen=True)
class OverturnedFinding:
    """A finding the monitors overturned, with who overturned it, when, and why."""

    finding_id: int
    call_id: str
    agent_id: str | None
    agent_name: str | None
    started_at: datetime | None
    start: float
    end: float
    quote: str
    phrase: str
    match_kind: str
    reviewer: str
    comment: str
    decided_at: datetime
    appeal_reason: str | None = None  # set when an upheld appeal overturned it: what the agent said


def months_ending(month: str, count: int) -> tuple[str, ...]:
    """`count` consecutive months ending with `month`, oldest first."""
    months = [parse_month(month)]
    while len(months) < max(1, count):
        months.append(previous_month(months[-1]))
    return tuple(reversed(months))


_BUCKET = {FindingStatus.CONFIRMED: "confirmed", FindingStatus.OVERTURNED: "overturned",
           FindingStatus.OPEN: "unreviewed", FindingStatus.UNCERTAIN: "unreviewed"}


@dataclass(frozen=True)
class RuleCalibration:
    """How monitors judged the machine on one check over one period: precision as reviewed =
    confirmed / reviewed. uncertain: findings raised as doubtful and not yet ruled on (among
    `findings`)."""

    rule_id: str
    findings: int
    reviewed: int
    confirmed: int
    overturned: int
    uncertain: int = 0

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.reviewed if self.reviewed else None


def calibration(session: Session, *, month: str | None = None, timezone: str = DEFAULT_TIMEZONE) -> list[RuleCalibration]:
    """Per check, over one month or all time (`qcpipe calibration`): findings raised, reviewed,
    confirmed, overturned, uncertain."""
    start, end = month_bounds(month, timezone) if month is not None else (None, None)
    by_rule: dict[str, Counter[FindingStatus]] = defaultdict(Counter)
    for rule_id, status, number, _title in _status_counts(session, start, end):
        by_rule[rule_id][status] += number
    return [RuleCalibration(rule_id, sum(counts.values()), counts[FindingStatus.CONFIRMED] + counts[FindingStatus.OVERTURNED],
                            counts[FindingStatus.CONFIRMED], counts[FindingStatus.OVERTURNED],
                            counts[FindingStatus.UNCERTAIN])
            for rule_id, counts in sorted(by_rule.items())]


def _status_counts(session: Session, start: datetime | None, end: datetime | None) -> list[tuple[str, FindingStatus, int, str]]:
    """(check, status, findings, title) of the calls started in [start, end) (all when None),
    counted in the database; observations left out."""
    query = (
        select(FindingRecord.rule_id, FindingRecord.status, func.count(), func.max(FindingRecord.title))
        .join(Call, FindingRecord.call_pk == Call.id)
        .where(FindingRecord.status.in_(list(_BUCKET)))
        .group_by(FindingRecord.rule_id, FindingRecord.status)
    )
    if start is not None and end is not None:
        query = query.where(Call.started_at >= start, Call.started_at < end)
    return [(rule_id, FindingStatus(status), number, title) for rule_id, status, number, title in session.execute(query)]


def precision_by_month(session: Session, month: str, *, months: int = DEFAULT_MONTHS, timezone: str) -> Calibration:
    """Per check, confirmed / overturned / not yet reviewed in each of the `months` months ending
    with `month` (one aggregate query per month, counted in the database)."""
    shown = months_ending(month, months)
    counts: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    titles: dict[str, str] = {}
    for index, each in enumerate(shown):
        for rule_id, status, number, title in _status_counts(session, *month_bounds(each, timezone)):
            counts[rule_id][index][_BUCKET[status]] += number
            titles.setdefault(rule_id, title)
    checks = [
        CheckCalibration(rule_id, titles[rule_id],
                         tuple(MonthCounts(**per_month.get(i, {})) for i in range(len(shown))))
        for rule_id, per_month in counts.items()
    ]
    # The checks the monitors disagree with most come first; unreviewed ones last.
    checks.sort(key=lambda c: (c.total.precision is None, c.total.precision or 0.0, c.rule_id))
    return Calibration(shown, tuple(checks))


def overturned_findings(
    session: Session, rule_id: str, month: str, *, months: int = 1, timezone: str, privacy: PrivacySettings
) -> list[OverturnedFinding]:
    """The findings of `rule_id` overturned on calls of the `months` months ending with `month`,
    each with the decision that overturned it (the latest), newest decision first."""
    shown = months_ending(month, months)
    start, end = month_bounds(shown[0], timezone)[0], month_bounds(shown[-1], timezone)[1]
    findings = session.scalars(
        select(FindingRecord)
        .join(Call, FindingRecord.call_pk == Call.id)
        .where(FindingRecord.rule_id == rule_id, FindingRecord.status == FindingStatus.OVERTURNED,
               Call.started_at >= start, Call.started_at < end)
        .options(selectinload(FindingRecord.reviews), selectinload(FindingRecord.appeals),
                 selectinload(FindingRecord.call).selectinload(Call.agent))
    )
    result = []
    for finding in findings:
        decision = _overturning(finding.reviews)
        if decision is None:  # overturned without a recorded decision: nothing to learn from
            continue
        appeal = next((a for a in finding.appeals if a.id == decision.appeal_id), None)
        agent: Agent | None = finding.call.agent
        result.append(OverturnedFinding(
            finding_id=finding.id, call_id=finding.call.call_id, agent_id=agent.code if agent else None,
            agent_name=agent.name if agent else None, started_at=finding.call.started_at,
            start=finding.start_s, end=finding.end_s, quote=shown_quote(finding.quote, privacy),
            phrase=finding.phrase, match_kind=finding.match_kind, reviewer=decision.reviewer,
            comment=decision.comment, decided_at=decision.decided_at,
            appeal_reason=_reason(appeal),
        ))
    result.sort(key=lambda o: (o.decided_at, o.finding_id), reverse=True)
    return result


def _overturning(reviews: list[FindingReview]) -> FindingReview | None:
    latest = reviews[-1] if reviews else None
    return latest if latest is not None and latest.decision == ReviewDecision.OVERTURN else None


def _reason(appeal: Appeal | None) -> str | None:
    return appeal.reason if appeal is not None else None
