"""The team leaders' monthly report: each agent's QA score for a month, ranked and flagged.

Monthly QA score = mean of the agent's call scores that month (qa-rulebook.md, "Scores"), months
counted in the center's time zone. Uncertain findings (doubtful evidence, not yet confirmed) deduct
nothing and break no check, as overturned ones; each agent's calls with speech of theirs that ASR
could not transcribe (`calls_unheard`) are counted, so a center sees when its recordings are the
problem. The score is shown to one decimal, and ranks, the pass line
and the bottom 10 % are all judged on the score as shown, so the report never contradicts itself
(an agent shown at 80.0 is not "below 80").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only, selectinload

from qcpipe.errors import NotFoundError
from qcpipe.periods import month_bounds, previous_month
from qcpipe.scoring.records import NOT_DEDUCTING
from qcpipe.store import Agent, Call, CallStatus, FindingRecord, Team
from qcpipe.store.models import UnheardSpan


class ScoreFlag(StrEnum):
    BELOW_PASS_LINE = "below_pass_line"
    BOTTOM_10_PERCENT = "bottom_10_percent"
    FAILING_3_MONTHS = "failing_3_months"  # 000: 月考核连续三个月考核不合格者，停工学习

    @property
    def label(self) -> str:
        return _FLAG_LABELS[self]


_FLAG_LABELS = {
    ScoreFlag.BELOW_PASS_LINE: "below pass line",
    ScoreFlag.BOTTOM_10_PERCENT: "bottom 10 %",
    ScoreFlag.FAILING_3_MONTHS: "failing 3 months",
}


@dataclass(frozen=True)
class MonthPoint:
    """One month of an agent's record: the monthly score and how many calls it averages."""

    month: str
    score: float
    calls: int


@dataclass(frozen=True)
class MonthlyScore:
    """One agent's month. compliance: rule id → share of the calls it concerned that kept it
    (None when it concerned none). change: score − last month's (None without calls last month)."""

    agent_id: str
    agent_name: str | None
    team: str | None
    calls: int
    score: float
    compliance: Mapping[str, float | None]
    rank_in_team: int
    rank_in_center: int
    change: float | None
    flags: tuple[ScoreFlag, ...]
    trend: tuple[MonthPoint, ...] = field(default=())
    calls_unheard: int = 0  # of `calls`, those with agent speech ASR could not transcribe

    @property
    def label(self) -> str:
        return f"{self.agent_id} {self.agent_name}" if self.agent_name else self.agent_id

    def weakest_checks(self, limit: int = 3) -> tuple[tuple[str, float], ...]:
        """The checks this agent broke, least kept first: what to coach on."""
        broken = [(rule_id, rate) for rule_id, rate in self.compliance.items() if rate is not None and rate < 1]
        return tuple(sorted(broken, key=lambda item: item[1])[:limit])


@dataclass(frozen=True)
class MonthlyReport:
    """The month's agents, best first. Ranks, the bottom 10 % and the center mean are over the
    whole center even when `team` narrows the agents listed."""

    month: str
    team: str | None
    pass_line: float
    rule_ids: tuple[str, ...]
    agents: tuple[MonthlyScore, ...]
    center_mean: float | None  # mean of every scored call of the month in the center
    center_agents: int
    center_calls: int
    rule_titles: Mapping[str, str] = field(default_factory=dict)
    center_calls_unheard: int = 0  # the month's scored calls with unheard agent speech, center-wide

    def title_of(self, rule_id: str) -> str:
        return self.rule_titles.get(rule_id, rule_id)

    @property
    def headline(self) -> str:
        mean = "—" if self.center_mean is None else f"{self.center_mean:.1f}"
        scope = f"team {self.team}" if self.team else "all teams"
        return (
            f"Monthly QA report {self.month} · {scope} · pass line {self.pass_line:g} · "
            f"center mean {mean} ({self.center_agents} agents, {self.center_calls} calls, "
            f"{self.center_calls_unheard} with unheard agent speech)"
        )

    @property
    def unheard_share(self) -> float | None:
        """The share of the center's calls with agent speech that could not be transcribed."""
        return self.center_calls_unheard / self.center_calls if self.center_calls else None

    @property
    def trend_months(self) -> tuple[str, ...]:
        """Every calendar month from the first on any listed agent's record to this report's,
        oldest first: the x axis of trend charts, where a month without calls shows as a gap."""
        first = min((agent.trend[0].month for agent in self.agents if agent.trend), default=self.month)
        months = [self.month]
        while months[-1] > first:
            months.append(previous_month(months[-1]))
        return tuple(reversed(months))


def monthly_report(
    session: Session,
    month: str,
    *,
    team: str | None = None,
    pass_line: float,
    timezone: str,
    rule_ids: Sequence[str],
    rule_titles: Mapping[str, str] | None = None,
) -> MonthlyReport:
    """The report of `month` ('YYYY-MM'), optionally listing only the agents of `team`."""
    start, end = month_bounds(month, timezone)
    month = start.strftime("%Y-%m")
    if team is not None and session.scalar(select(Team.id).where(Team.name == team)) is None:
        raise NotFoundError(f"no team '{team}' in the database")
    calls_by_agent: dict[int, list[Call]] = defaultdict(list)
    unheard: set[int] = set()  # the calls with agent speech ASR could not transcribe
    for call, has_unheard in _scored_calls(session, start, end):
        calls_by_agent[call.agent_id].append(call)  # type: ignore[index]
        if has_unheard:
            unheard.add(call.id)
    history = monthly_history(session, end, ZoneInfo(timezone))
    scores = {pk: one_decimal(fmean(c.qa_score for c in calls)) for pk, calls in calls_by_agent.items()}  # type: ignore[misc]
    bottom = bottom_tenth(scores)
    team_of = {pk: _team_name(calls[0].agent) for pk, calls in calls_by_agent.items()}
    team_scores: dict[str | None, list[float]] = defaultdict(list)
    for pk, score in scores.items():
        team_scores[team_of[pk]].append(score)
    agents = []
    for pk, calls in calls_by_agent.items():
        agent = calls[0].agent
        assert agent is not None
        score, record = scores[pk], history.get(pk, {})
        last_month = record.get(previous_month(month))
        agents.append(
            MonthlyScore(
                agent_id=agent.code,
                agent_name=agent.name,
                team=team_of[pk],
                calls=len(calls),
                score=score,
                compliance=_compliance(calls, rule_ids),
                rank_in_team=_rank(score, team_scores[team_of[pk]]),
                rank_in_center=_rank(score, scores.values()),
                change=None if last_month is None else round(score - last_month.score, 1),
                flags=score_flags(month, score, pass_line, pk in bottom, record),
                trend=tuple(record[m] for m in sorted(record)),
                calls_unheard=sum(1 for c in calls if c.id in unheard),
            )
        )
    all_calls = [c for calls in calls_by_agent.values() for c in calls]
    return MonthlyReport(
        month=month,
        team=team,
        pass_line=pass_line,
        rule_ids=tuple(rule_ids),
        agents=tuple(
            sorted((a for a in agents if team is None or a.team == team), key=lambda a: (a.rank_in_center, a.agent_id))
        ),
        center_mean=one_decimal(fmean(c.qa_score for c in all_calls)) if all_calls else None,  # type: ignore[misc]
        center_agents=len(agents),
        center_calls=len(all_calls),
        rule_titles=dict(rule_titles or {}),
        center_calls_unheard=sum(1 for c in all_calls if c.id in unheard),
    )


# The calls a monthly score counts: processed, scored, dated and attributed to an agent.
_SCORED = (
    Call.status == CallStatus.DONE,
    Call.qa_score.is_not(None),
    Call.started_at.is_not(None),
    Call.agent_id.is_not(None),
)


def _scored_calls(session: Session, start: datetime, end: datetime) -> list[tuple[Call, bool]]:
    """The month's scored calls, with their findings, agents and teams, in one go; only the
    columns the report reads (a month of a large center is many calls). Each with whether it has
    agent speech ASR could not transcribe (an EXISTS on ix_unheard_call_start, in the same query)."""
    agent_unheard = (
        select(UnheardSpan.call_pk).where(UnheardSpan.call_pk == Call.id, UnheardSpan.role == "agent").exists()
    )
    query = (
        select(Call, agent_unheard.label("agent_unheard"))
        .where(*_SCORED, Call.started_at >= start, Call.started_at < end)
        .options(
            load_only(Call.agent_id, Call.qa_score, Call.checks_applied, Call.not_applicable),
            selectinload(Call.findings).load_only(FindingRecord.rule_id, FindingRecord.status),
            selectinload(Call.agent).selectinload(Agent.team),
        )
    )
    return [(call, bool(has_unheard)) for call, has_unheard in session.execute(query)]


def monthly_history(session: Session, end: datetime, zone: tzinfo,
                    since: datetime | None = None) -> dict[int, dict[str, MonthPoint]]:
    """agent pk → month → that month's score, for every month before `end` (from `since`, the
    first instant of a month, when given): three columns a call, no ORM objects, so years of
    calls stay cheap."""
    scores: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    query = select(Call.agent_id, Call.started_at, Call.qa_score).where(*_SCORED, Call.started_at < end)
    if since is not None:
        query = query.where(Call.started_at >= since)
    for agent_pk, started_at, qa_score in session.execute(query):
        scores[agent_pk][started_at.astimezone(zone).strftime("%Y-%m")].append(qa_score)
    return {
        pk: {m: MonthPoint(m, one_decimal(fmean(values)), len(values)) for m, values in months.items()}
        for pk, months in scores.items()
    }


def _compliance(calls: Iterable[Call], rule_ids: Sequence[str]) -> dict[str, float | None]:
    applied: dict[str, int] = dict.fromkeys(rule_ids, 0)
    violated: dict[str, int] = dict.fromkeys(rule_ids, 0)
    for call in calls:
        # Overturned findings were wrong; uncertain ones are not yet confirmed: neither breaks a check.
        broken = {f.rule_id for f in call.findings if f.status not in NOT_DEDUCTING}
        # A finding shows the check concerned the call, even where checks_applied (written
        # by an older rulebook) does not list it.
        for rule_id in _checks_applied(call, rule_ids) | (broken & applied.keys()):
            applied[rule_id] += 1
            violated[rule_id] += rule_id in broken
    return {r: (1 - violated[r] / applied[r]) if applied[r] else None for r in rule_ids}


def _checks_applied(call: Call, rule_ids: Sequence[str]) -> set[str]:
    if call.checks_applied is not None:
        return set(call.checks_applied) & set(rule_ids)
    # Calls scored before checks_applied was recorded: every check but those ruled out.
    return set(rule_ids) - {rule_id for rule_id, _reason in call.not_applicable or []}


def score_flags(
    month: str | None, score: float, pass_line: float, in_bottom_tenth: bool, record: Mapping[str, MonthPoint]
) -> tuple[ScoreFlag, ...]:
    """An agent's flags for `month` from its score, whether it is in the bottom tenth, and its
    earlier months' scores (`record`, by 'YYYY-MM'). A period that is no calendar month (`month`
    None) has no streak of months: only the first two flags."""
    flags = []
    if score < pass_line:
        flags.append(ScoreFlag.BELOW_PASS_LINE)
    if in_bottom_tenth:
        flags.append(ScoreFlag.BOTTOM_10_PERCENT)
    if month is None:
        return tuple(flags)
    earlier = (previous_month(month), previous_month(previous_month(month)))
    # Consecutive calendar months: a month without calls breaks the streak, it is not skipped.
    if score < pass_line and all(m in record and record[m].score < pass_line for m in earlier):
        flags.append(ScoreFlag.FAILING_3_MONTHS)
    return tuple(flags)


def bottom_tenth(scores: Mapping[int, float]) -> set[int]:
    """The agents at or below the ceil(10 %)-th lowest score: at least one agent in any center,
    and agents tied at the cut are all in (neither can fairly be left out)."""
    if not scores:
        return set()
    count = -(-len(scores) // 10)  # integer ceil: 0.1 * 30 is 3.0000000000000004 in floats
    cut = sorted(scores.values())[count - 1]
    return {pk for pk, score in scores.items() if score <= cut}


def _rank(score: float, scores: Iterable[float]) -> int:
    """1 = best; tied scores share a rank and the next rank is skipped (1, 2, 2, 4)."""
    return 1 + sum(other > score for other in scores)


def one_decimal(value: float) -> float:
    # Half up, as 四舍五入 on a score sheet: 72.25 → 72.3 (round() would give 72.2).
    return float(Decimal(repr(round(value, 9))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _team_name(agent: Agent | None) -> str | None:
    return agent.team.name if agent is not None and agent.team is not None else None
