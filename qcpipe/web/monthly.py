"""Team leaders and agents: the monthly report page and JSON, the heatmap, agents' scorecards (/me, /agents/{id}).

The report is `qcpipe.reports.monthly_report`, the one `qcpipe report monthly` prints, and its
downloads are that command's writers; who sees which team is `qcpipe.reports.monthly_scope`.
"""

from __future__ import annotations

import calendar
import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from qcpipe.accounts import Permission
from qcpipe.config import Settings
from qcpipe.errors import NotFoundError
from qcpipe.periods import next_month, parse_month, previous_month
from qcpipe.reports import MonthlyReport, ScoreFlag, monthly_report, to_csv, to_html, to_xlsx
from qcpipe.reports.monthly_columns import trend_floor
from qcpipe.reports.monthly_scope import latest_scored_month, report_team, team_names, visible_agent
from qcpipe.reports.monthly_svg import trend_chart
from qcpipe.reports.scorecard import Scorecard, scorecard
from qcpipe.scoring import Rulebook, active_rulebook
from qcpipe.store.models import AppealStatus, UserRole, utcnow
from qcpipe.web.render import render
from qcpipe.web.security import Identity, allow, enforce, identity

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
# Its JSON routes, listed in /api/openapi.json with the rest of the API.
api_router = APIRouter(dependencies=[Depends(enforce)], tags=["api"])
Who = Annotated[Identity, Depends(identity)]

FLAG_TITLES = {
    ScoreFlag.BELOW_PASS_LINE: "低于合格线 below pass line",
    ScoreFlag.BOTTOM_10_PERCENT: "后 10% bottom 10 %",
    ScoreFlag.FAILING_3_MONTHS: "连续三月不合格 failing 3 months",
}
APPEAL_TITLES = {
    AppealStatus.PENDING: "待裁定 pending",
    AppealStatus.UPHELD: "申诉成立 upheld",
    AppealStatus.REJECTED: "维持扣分 rejected",
}


class ReportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


_DOWNLOADS: dict[ReportFormat, tuple[Callable[[MonthlyReport, Path], None], str]] = {
    ReportFormat.CSV: (to_csv, "text/csv; charset=utf-8"),
    ReportFormat.XLSX: (to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ReportFormat.HTML: (to_html, "text/html; charset=utf-8"),
}


class MonthlyRow(BaseModel):
    agent_id: str
    agent_name: str | None
    team: str | None
    calls: int
    score: float = Field(description="Mean of the agent's call scores this month, one decimal.")
    rank: int = Field(description="Rank in the whole center (1 = best; ties share a rank).")
    flags: list[ScoreFlag]
    compliance: dict[str, float | None] = Field(
        description="check id → share of the calls the check concerned that kept it (null: it concerned none).")


class MonthlyOut(BaseModel):
    month: str
    team: str | None = Field(description="The team listed; null: the whole center.")
    pass_line: float
    center_mean: float | None
    rows: list[MonthlyRow]


# --- the monthly report ----------------------------------------------------------------------------


@router.get("/reports/monthly")
@allow(Permission.SEE_REPORTS)
def monthly_page(request: Request, who: Who, month: str | None = None, team: str | None = None) -> Response:
    with _store(request).session() as session:
        report = _report(request, session, who, month, team)
        teams = team_names(session) if who.viewer.role is not UserRole.TEAM_LEADER else ()
    months, floor = report.trend_months, trend_floor(report)
    charts = {a.agent_id: Markup(trend_chart(a, months, report.month, report.pass_line, floor)) for a in report.agents}
    first, last = _days(report.month)
    query = {"month": report.month, **({"team": report.team} if report.team else {})}

    def cell_link(agent_id: str, rule_id: str) -> str:
        # The calls behind a heatmap cell: that agent's calls of the month where the check cost
        # points, the misses the rate counts (the worklist keeps the viewer's scope).
        return "/worklist?" + urlencode({"agent": agent_id, "rule": rule_id, "date_from": first, "date_to": last,
                                         "state": "deducting"})

    return render(
        request, "monthly.html", report=report, teams=teams, charts=charts, cell_link=cell_link, heat=heat_class,
        flag_titles=FLAG_TITLES, previous=previous_month(report.month), following=next_month(report.month),
        query=urlencode(query), formats=list(ReportFormat),
        flagged=[a for a in reversed(report.agents) if a.flags],
    )


@router.get("/reports/monthly/download")
@allow(Permission.SEE_REPORTS)
def monthly_download(request: Request, who: Who, month: str | None = None, team: str | None = None,
                     format: ReportFormat = ReportFormat.CSV) -> Response:
    with _store(request).session() as session:
        report = _report(request, session, who, month, team)
    if not report.agents:
        raise NotFoundError(f"no scored calls in {report.month}{f' for team {report.team}' if report.team else ''}")
    write, media_type = _DOWNLOADS[format]
    with tempfile.TemporaryDirectory(prefix="qcpipe-report-") as folder:
        path = Path(folder) / f"report.{format}"
        write(report, path)
        content = path.read_bytes()
    name = f"qcpipe-monthly-{report.month}{f'-{report.team}' if report.team else ''}.{format}"
    ascii_name = f"qcpipe-monthly-{report.month}.{format}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


@api_router.get("/api/reports/monthly", response_model=MonthlyOut)
@allow(Permission.SEE_REPORTS)
def monthly_json(request: Request, who: Who, month: str | None = None, team: str | None = None) -> MonthlyOut:
    """The monthly report: one row per agent of the team (or the center), best first."""
    with _store(request).session() as session:
        report = _report(request, session, who, month, team)
    return MonthlyOut(
        month=report.month, team=report.team, pass_line=report.pass_line, center_mean=report.center_mean,
        rows=[MonthlyRow(agent_id=a.agent_id, agent_name=a.agent_name, team=a.team, calls=a.calls, score=a.score,
                         rank=a.rank_in_center, flags=list(a.flags), compliance=dict(a.compliance))
              for a in report.agents],
    )


def _report(request: Request, session: Session, who: Identity, month: str | None, team: str | None) -> MonthlyReport:
    settings = _settings(request)
    shown_team = report_team(who.viewer, team)
    month = parse_month(month) if month and month.strip() else latest_scored_month(
        session, settings.timezone, team=shown_team, now=utcnow())
    rulebook = _rulebook(session, settings)
    return monthly_report(session, month, team=shown_team, pass_line=settings.pass_line, timezone=settings.timezone,
                          rule_ids=rulebook.scored_rule_ids, rule_titles=rulebook.titles)


# --- scorecards --------------------------------------------------------------------------------


@router.get("/me")
@allow(Permission.OWN_SCORECARD)
def own_scorecard(request: Request, who: Who, month: str | None = None) -> Response:
    if not who.viewer.agent_code:
        raise NotFoundError("your account is not linked to an agent id: ask an admin to set it")
    return _scorecard_page(request, who, who.viewer.agent_code, month, own=True)


@router.get("/agents/{agent_id}")
@allow(Permission.SEE_REPORTS)
def agent_scorecard(request: Request, who: Who, agent_id: str, month: str | None = None) -> Response:
    return _scorecard_page(request, who, agent_id, month, own=False)


def _scorecard_page(request: Request, who: Who, agent_code: str, month: str | None, *, own: bool) -> Response:
    settings = _settings(request)
    with _store(request).session() as session:
        rulebook = _rulebook(session, settings)
        agent = visible_agent(session, who.viewer, agent_code)
        team = agent.team.name if agent.team is not None else None
        month = parse_month(month) if month and month.strip() else latest_scored_month(
            session, settings.timezone, team=team, now=utcnow())
        card = scorecard(session, agent, month, pass_line=settings.pass_line, timezone=settings.timezone,
                         rule_ids=rulebook.scored_rule_ids, rule_titles=rulebook.titles)
    chart = Markup(trend_chart(card.chart_line, card.trend_months, card.month, card.pass_line, _floor(card)))
    return render(
        request, "scorecard.html", card=card, own=own, chart=chart, heat=heat_class, flag_titles=FLAG_TITLES,
        appeal_titles=APPEAL_TITLES, previous=previous_month(card.month), following=next_month(card.month),
        here="/me" if own else f"/agents/{quote(card.agent_id)}",
    )


def _floor(card: Scorecard) -> float:
    lowest = min([card.pass_line, *(point.score for point in card.trend)])
    return max(0.0, lowest // 10 * 10 - 10.0)


# --- shared --------------------------------------------------------------------------------------


def heat_class(rate: float | None) -> str:
    """The heatmap colour of a compliance rate: heat-0 (kept on no call) … heat-10 (on every one),
    in tenths, on the report's fixed scale (red, yellow at 80 %, green); heat-na: not concerned."""
    if rate is None:
        return "heat-na"
    # Rounded down: 95 % is not shown in the colour of 100 %.
    return f"heat-{min(10, max(0, int(rate * 10 + 1e-9)))}"


def _days(month: str) -> tuple[str, str]:
    year, number = (int(part) for part in month.split("-"))
    return f"{month}-01", f"{month}-{calendar.monthrange(year, number)[1]:02d}"


def _rulebook(session: Session, settings: Settings) -> Rulebook:
    """The rulebook in force (the newest published version, else the settings' file), as the CLI's
    report uses: its scored checks and their titles are the report's columns."""
    return active_rulebook(session, settings.rules).rulebook



def _store(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.store


def _settings(request: Request) -> Settings:
    return request.app.state.settings

