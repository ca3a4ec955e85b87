"""Whose monthly report and scorecards a person may open, and which month a report opens on.

A team leader's reports are their own team's: the team they ask for is theirs or nothing (another
team, or an agent of another team, is "not found", never "forbidden": its existence is not theirs
to learn). QA leads and admins see any team, or the whole center.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from qcpipe.accounts.roles import Viewer
from qcpipe.errors import NotFoundError
from qcpipe.periods import month_of, zone
from qcpipe.store import Agent, Call, CallStatus, Team
from qcpipe.store.models import UserRole


def report_team(viewer: Viewer, requested: str | None) -> str | None:
    """The team a report of `viewer` lists (None: the whole center). A team leader's is always
    their own; naming another is not found."""
    requested = (requested or "").strip() or None
    if viewer.role is not UserRole.TEAM_LEADER:
        return requested
    if not viewer.team or (requested is not None and requested != viewer.team):
        raise NotFoundError(f"no team '{requested}' among the teams you lead" if requested else
                            "your account leads no team: ask an admin to set it")
    return viewer.team


def visible_agent(session: Session, viewer: Viewer, agent_code: str) -> Agent:
    """The agent `agent_code`, if `viewer` may see their scorecard: an agent their own, a team leader
    their team's, QA leads and admins anyone's."""
    agent = session.scalar(select(Agent).where(Agent.code == agent_code).options(selectinload(Agent.team)))
    team = agent.team.name if agent is not None and agent.team is not None else None
    allowed = agent is not None and (
        (viewer.role is UserRole.AGENT and viewer.agent_code == agent_code)
        or (viewer.role is UserRole.TEAM_LEADER and bool(viewer.team) and team == viewer.team)
        or viewer.role not in (UserRole.AGENT, UserRole.TEAM_LEADER)
    )
    if not allowed:
        raise NotFoundError(f"no agent '{agent_code}' that you may see")
    assert agent is not None
    return agent


def team_names(session: Session) -> tuple[str, ...]:
    return tuple(session.scalars(select(Team.name).order_by(Team.name)))


def latest_scored_month(session: Session, timezone: str, *, team: str | None = None, now: datetime) -> str:
    """The last month (center time) with a scored call of `team` (or the center); this month when
    there is none: the month a report opens on when none is asked for."""
    query = select(func.max(Call.started_at)).where(
        Call.status == CallStatus.DONE, Call.qa_score.is_not(None), Call.agent_id.is_not(None))
    if team is not None:
        query = query.where(Call.agent_id.in_(select(Agent.id).join(Team, Agent.team_id == Team.id)
                                              .where(Team.name == team)))
    latest = session.scalar(query)
    return month_of(latest, timezone) if latest is not None else now.astimezone(zone(timezone)).strftime("%Y-%m")
