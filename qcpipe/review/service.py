"""The review workflow. Every decision is a new row (who, when, why): nothing is overwritten.

- A monitor confirms or overturns a finding; an overturned finding stops deducting and the
  call's score is recomputed. A finding can be reviewed again; the latest decision counts.
- An `uncertain` finding (a missing phrase whose window was heard too poorly to be sure) waits
  for the monitors like an open one but deducts nothing: confirming it makes it deduct,
  overturning it leaves it deducting nothing. Agents have nothing to appeal until it is confirmed.
- An agent may appeal a finding of one of their own calls within the appeal window (days
  after the finding was raised). While the appeal is pending the finding waits for the
  ruling; the monitor's ruling on it is final: no further review or appeal of that finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from qcpipe import audit
from qcpipe.accounts.roles import Viewer
from qcpipe.calls import UNDECIDED, AppealView, FindingView, HistoryEntry, deducting_since, history_of, visible_finding
from qcpipe.config import PrivacySettings
from qcpipe.errors import NotFoundError, QcpipeError
from qcpipe.periods import Period
from qcpipe.review.assignment import finish_assignment
from qcpipe.store import Agent, Call, FindingRecord, FindingStatus, Team
from qcpipe.store.models import Appeal, AppealStatus, FindingReview, ReviewDecision
from qcpipe.scoring.records import update_call_score
from qcpipe.store import repository as repo


class ReviewError(QcpipeError):
    """A review or appeal that the workflow does not allow (final ruling, window passed …)."""


class DecisionConflict(ReviewError):
    """Someone else decided the finding after the page the decision was made on was loaded."""


@dataclass(frozen=True)
class FlaggedCall:
    """A call with findings not yet ruled on (open or uncertain), for the monitor's queue."""

    call_id: str
    agent_id: str | None
    agent_name: str | None
    team: str | None
    started_at: datetime | None
    score: float | None
    findings: tuple[FindingView, ...]
    unheard_agent_s: float = 0.0  # agent speech ASR could not transcribe

    @property
    def uncertain(self) -> int:
        """How many of its findings are uncertain (they deduct nothing until confirmed)."""
        return sum(1 for f in self.findings if f.uncertain)


def flagged_calls(
    session: Session,
    privacy: PrivacySettings,
    *,
    period: Period = Period(),
    team: str | None = None,
    agent: str | None = None,
    rule: str | None = None,
    uncertain_only: bool = False,
) -> list[FlaggedCall]:
    """Calls with findings not yet ruled on, open or uncertain (matching the filters), started in
    `period`, worst score first. uncertain_only: only the calls with uncertain findings, and only
    those findings."""
    statuses = (FindingStatus.UNCERTAIN,) if uncertain_only else UNDECIDED
    open_findings = select(FindingRecord.call_pk).where(FindingRecord.status.in_(statuses))
    if rule is not None:
        open_findings = open_findings.where(FindingRecord.rule_id == rule)
    # A subquery, not a join + DISTINCT: PostgreSQL cannot compare the calls' JSON columns.
    query = select(Call).where(Call.id.in_(open_findings)).options(
        selectinload(Call.findings), selectinload(Call.unheard), selectinload(Call.agent).selectinload(Agent.team)
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
            findings=tuple(FindingView.of(f, privacy) for f in call.findings if f.status in statuses),
            unheard_agent_s=round(sum(s.end_s - s.start_s for s in call.unheard if s.role == "agent"), 3),
        )
        for call in calls
    ]


def review_finding(
    session: Session, finding_id: int, *, confirm: bool, reviewer: str, comment: str = "", now: datetime,
    seen_version: int | None = None,
) -> FindingRecord:
    """Confirm or overturn a finding; the call's score follows.

    seen_version: the finding's `version` when the reviewer loaded it. If it changed since (another
    monitor decided meanwhile), nothing is written and DecisionConflict says who decided and when.
    """
    finding = _finding(session, finding_id)
    if seen_version is not None and finding.version != seen_version:
        latest = finding.reviews[-1] if finding.reviews else None
        who = f"by {latest.reviewer} at {latest.decided_at:%Y-%m-%d %H:%M:%S} UTC" if latest else "meanwhile"
        raise DecisionConflict(f"finding {finding_id} was already decided ({finding.status}) {who}: "
                               "reload the call to see it; nothing was changed")
    _refuse_if_final(finding)
    if pending := _pending_appeal(finding):
        raise ReviewError(f"finding {finding_id} has a pending appeal ({pending.id}): rule on it with `qcpipe appeal-decide {pending.id}`")
    _decide(session, finding, confirm=confirm, reviewer=reviewer, comment=comment, now=now)
    audit.record(session, reviewer, f"finding.{'confirm' if confirm else 'overturn'}", "finding", finding_id, comment, at=now)
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
    if finding.status == FindingStatus.UNCERTAIN:
        raise ReviewError(
            f"finding {finding_id} is uncertain ({finding.doubt or 'its evidence was heard poorly'}): it deducts "
            "nothing until a monitor confirms it, so there is nothing to appeal yet"
        )
    _refuse_if_final(finding)
    if pending := _pending_appeal(finding):
        raise ReviewError(f"finding {finding_id} already has a pending appeal ({pending.id})")
    since = deducting_since(finding)
    deadline = since + timedelta(days=window_days)
    if now > deadline:
        what = "it was raised" if since == finding.created_at else "a monitor confirmed it"
        raise ReviewError(
            f"the appeal window for finding {finding_id} closed on {deadline:%Y-%m-%d %H:%M} UTC "
            f"({window_days} days after {what})"
        )
    if not reason.strip():
        raise ReviewError("an appeal needs a reason")
    appeal = Appeal(agent=agent, reason=reason.strip(), filed_at=now, status=AppealStatus.PENDING)
    finding.appeals.append(appeal)
    session.flush()
    audit.record(session, agent, "appeal.file", "finding", finding_id, appeal.reason, at=now)
    return appeal


def decide_appeal(
    session: Session, appeal_id: int, *, uphold: bool, by: str, comment: str = "", now: datetime
) -> Appeal:
    """The monitor's final ruling: upheld → the finding is overturned; rejected → confirmed."""
    appeal = repo.get_row(session, Appeal, appeal_id)
    if appeal is None:
        raise NotFoundError(f"no appeal {appeal_id}")
    if appeal.status != AppealStatus.PENDING:
        raise ReviewError(f"appeal {appeal_id} was already ruled {appeal.status} by {appeal.decided_by}: the ruling is final")
    appeal.status = AppealStatus.UPHELD if uphold else AppealStatus.REJECTED
    appeal.decided_by, appeal.decided_at, appeal.decision_comment = by, now, comment
    _decide(session, appeal.finding, confirm=not uphold, reviewer=by, comment=comment, now=now, appeal=appeal)
    audit.record(session, by, f"appeal.{appeal.status}", "appeal", appeal_id, comment, at=now)
    return appeal


def finding_history(
    session: Session, finding_id: int, privacy: PrivacySettings
) -> tuple[FindingView, list[HistoryEntry]]:
    """A finding and everything decided about it, oldest first."""
    finding = _finding(session, finding_id)
    return FindingView.of(finding, privacy), history_of(finding)


def _finding(session: Session, finding_id: int) -> FindingRecord:
    finding = repo.get_row(session, FindingRecord, finding_id, options=[selectinload(FindingRecord.reviews)])
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
    session: Session, finding: FindingRecord, *, confirm: bool, reviewer: str, comment: str, now: datetime,
    appeal: Appeal | None = None,
) -> None:
    if not reviewer.strip():
        raise ReviewError("a decision needs the reviewer's name (--by)")
    decision = ReviewDecision.CONFIRM if confirm else ReviewDecision.OVERTURN
    finding.reviews.append(
        FindingReview(decision=decision, reviewer=reviewer, comment=comment, decided_at=now, appeal_id=appeal.id if appeal else None)
    )
    finding.status = FindingStatus.CONFIRMED if confirm else FindingStatus.OVERTURNED
    flag_modified(finding, "status")  # every decision bumps the version, even a repeated confirm
    update_call_score(finding.call)
    try:
        session.flush()  # UPDATE … WHERE version = the one read: fails if another decision got in first
    except StaleDataError:
        raise DecisionConflict(f"finding {finding.id} was decided by someone else at the same moment: "
                               "reload the call to see it; nothing was changed") from None


@dataclass(frozen=True)
class PendingAppeal:
    """An appeal waiting for a monitor's ruling, with the finding it is about."""

    appeal: AppealView
    finding: FindingView
    agent_name: str | None


def pending_appeals(session: Session, privacy: PrivacySettings) -> list[PendingAppeal]:
    """Every appeal not yet ruled, oldest first (first come, first ruled)."""
    appeals = session.scalars(
        select(Appeal).where(Appeal.status == AppealStatus.PENDING).order_by(Appeal.filed_at, Appeal.id)
        .options(selectinload(Appeal.finding).selectinload(FindingRecord.call).selectinload(Call.agent))
    )
    return [
        PendingAppeal(AppealView.of(a), FindingView.of(a.finding, privacy),
                      a.finding.call.agent.name if a.finding.call.agent else None)
        for a in appeals
    ]


def review_as(
    session: Session, viewer: Viewer, finding_id: int, *, confirm: bool, comment: str, now: datetime,
    seen_version: int | None = None,
) -> FindingRecord:
    """A logged-in monitor's decision: the finding must be on a call they may see (else it is
    not found); deciding the last finding not yet ruled on (open or uncertain) of a call assigned
    to them finishes that call."""
    visible_finding(session, finding_id, viewer)
    finding = review_finding(session, finding_id, confirm=confirm, reviewer=viewer.username, comment=comment.strip(),
                             now=now, seen_version=seen_version)
    if not any(f.status in UNDECIDED for f in finding.call.findings):
        finish_assignment(session, finding.call.call_id, viewer.username, now)
    return finding


def appeal_as(session: Session, viewer: Viewer, finding_id: int, *, reason: str, window_days: int, now: datetime) -> Appeal:
    """A logged-in agent's appeal of a finding on one of their own calls (others' are not found)."""
    visible_finding(session, finding_id, viewer)
    return file_appeal(session, finding_id, agent=viewer.agent_code or "", reason=reason, window_days=window_days, now=now)
