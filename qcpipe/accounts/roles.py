"""Who may do what, and whose calls each person sees.

    |                            | agent    | team_leader | trainer | monitor | qa_lead | admin |
    |----------------------------|----------|-------------|---------|---------|---------|-------|
    | see calls, findings, audio | own only | own team    | all     | all     | all     | all   |
    | confirm / overturn         |          |             |         | ✓       | ✓       | ✓     |
    | appeal a finding           | own      |             |         |         |         |       |
    | rule on appeals            |          |             |         | ✓       | ✓       | ✓     |
    | assign review work         |          |             |         |         | ✓       | ✓     |
    | manage users               |          |             |         |         |         | ✓     |
    | monthly reports, scorecards|          | own team    |         |         | all     | all   |
    | own scorecard (/me)        | ✓        |             |         |         |         |       |
    | training library, packs    |          |             | ✓       |         | ✓       | ✓     |
    | edit, preview, publish rules|         |             |         |         | ✓       | ✓     |
    | calibration                |          |             |         |         | ✓       | ✓     |
    | audit log                  |          |             |         |         | ✓       | ✓     |
    | nightly job runs           |          |             |         |         | ✓       | ✓     |
    | mark failed calls for retry|          |             |         |         |         | ✓     |

(Alibaba SCA's ADMIN / QUALITY_INSPECTOR / AGENT, and Genesys' read vs read.own.) Every web
route names the permission it needs; the server checks it on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, false, select, true

from qcpipe.store.models import Agent, Call, Team, User, UserRole


class Permission(StrEnum):
    SEE_CALLS = "see_calls"  # within the person's scope (own, team, all)
    REVIEW = "review"  # confirm / overturn findings
    APPEAL = "appeal"  # appeal findings of one's own calls
    RULE_APPEALS = "rule_appeals"
    ASSIGN = "assign"  # give review work to monitors, sample calls
    MANAGE_USERS = "manage_users"
    SEE_REPORTS = "see_reports"  # monthly reports and agents' scorecards, within the person's scope
    OWN_SCORECARD = "own_scorecard"  # an agent's own scorecard (/me)
    TRAIN = "train"  # the trainers' library: mark findings as training examples, build packs
    EDIT_RULES = "edit_rules"  # the rulebook editor, what-if previews, publishing versions
    CALIBRATE = "calibrate"  # per-check precision as reviewed
    SEE_AUDIT = "see_audit"  # the audit log
    SEE_JOBS = "see_jobs"  # the nightly job's runs and failed calls
    RETRY_CALLS = "retry_calls"  # mark failed calls to be tried again by the next run


ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    UserRole.AGENT: frozenset({Permission.SEE_CALLS, Permission.APPEAL, Permission.OWN_SCORECARD}),
    UserRole.TEAM_LEADER: frozenset({Permission.SEE_CALLS, Permission.SEE_REPORTS}),
    UserRole.TRAINER: frozenset({Permission.SEE_CALLS, Permission.TRAIN}),
    UserRole.MONITOR: frozenset({Permission.SEE_CALLS, Permission.REVIEW, Permission.RULE_APPEALS}),
    UserRole.QA_LEAD: frozenset({Permission.SEE_CALLS, Permission.REVIEW, Permission.RULE_APPEALS, Permission.ASSIGN,
                                 Permission.SEE_REPORTS, Permission.TRAIN, Permission.EDIT_RULES, Permission.CALIBRATE,
                                 Permission.SEE_AUDIT, Permission.SEE_JOBS}),
    # Only an agent appeals, and only their own calls; only an agent has a scorecard of their own.
    UserRole.ADMIN: frozenset(Permission) - {Permission.APPEAL, Permission.OWN_SCORECARD},
}

ROLE_TITLES = {
    UserRole.AGENT: "坐席", UserRole.TEAM_LEADER: "班组长", UserRole.TRAINER: "培训师",
    UserRole.MONITOR: "质检员", UserRole.QA_LEAD: "质检主管", UserRole.ADMIN: "管理员",
}


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: their name, role, and what bounds their view."""

    username: str
    role: UserRole
    agent_code: str | None = None
    team: str | None = None

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.username, UserRole(user.role), user.agent_code, user.team)

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def title(self) -> str:
        return ROLE_TITLES[self.role]

    def call_scope(self) -> ColumnElement[bool]:
        """A WHERE clause on `Call` keeping the calls this person may see."""
        if self.role is UserRole.AGENT:
            if not self.agent_code:
                return false()
            return Call.agent_id.in_(select(Agent.id).where(Agent.code == self.agent_code))
        if self.role is UserRole.TEAM_LEADER:
            if not self.team:
                return false()
            return Call.agent_id.in_(select(Agent.id).join(Team, Agent.team_id == Team.id).where(Team.name == self.team))
        return true()

    def sees(self, call: Call) -> bool:
        """The same rule as `call_scope`, for a call already loaded (with its agent and team)."""
        if self.role is UserRole.AGENT:
            return bool(self.agent_code) and call.agent is not None and call.agent.code == self.agent_code
        if self.role is UserRole.TEAM_LEADER:
            agent = call.agent
            return bool(self.team) and agent is not None and agent.team is not None and agent.team.name == self.team
        return True
