"""The JSON API (/api/…): the same session, permissions, CSRF header and services as the pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from qcpipe.accounts import Permission
from qcpipe.calls import call_detail
from qcpipe.review import appeal_as, decide_appeal, review_as
from qcpipe.review.worklist import ReviewState, WorklistFilters, worklist
from qcpipe.scoring.timeline import CallStats
from qcpipe.store.models import utcnow
from qcpipe.web.pages import audio_response
from qcpipe.web.security import LOGGED_IN, Identity, allow, enforce, identity

router = APIRouter(prefix="/api", dependencies=[Depends(enforce)], tags=["api"])
Who = Annotated[Identity, Depends(identity)]
API_PAGE_SIZE = 50


class CallItem(BaseModel):
    call_id: str
    agent_id: str | None
    team: str | None
    started_at: datetime | None
    score: float | None
    open_findings: int
    uncertain_findings: int = Field(0, description="Findings not yet ruled on whose evidence is doubtful: they "
                                                   "deduct nothing until a monitor confirms them.")


class CallList(BaseModel):
    items: list[CallItem]
    total: int
    page: int
    pages: int


class SegmentOut(BaseModel):
    role: str
    start: float
    end: float
    text: str


class FindingOut(BaseModel):
    id: int
    rule_id: str
    title: str
    start: float
    end: float
    quote: str
    deduction: float
    status: str
    version: int
    match_kind: str
    speaker: str
    doubt: str | None = Field(None, description="Why the evidence is doubtful (status uncertain: deducts nothing "
                                                "until confirmed).")


class UnheardOut(BaseModel):
    role: str
    start: float
    end: float


class CallOut(BaseModel):
    call_id: str
    agent_id: str | None
    team: str | None
    started_at: datetime | None
    duration_s: float | None
    score: float | None
    segments: list[SegmentOut]
    findings: list[FindingOut]
    not_applicable: list[dict[str, str]]
    unheard: list[UnheardOut] = Field(default_factory=list, description="Speech ASR could not transcribe.")
    unheard_agent_s: float = 0.0
    stats: CallStats | None = Field(None, description="Talk time, silence, overlaps, agent speech rate.")


class ReviewIn(BaseModel):
    decision: Literal["confirm", "overturn"]
    comment: str = ""
    version: int | None = Field(None, description="The finding's version as loaded: refused (409) if it changed since.")


class ReviewOut(BaseModel):
    call_id: str
    score: float | None
    finding_id: int
    status: str
    version: int


class AppealIn(BaseModel):
    reason: str = Field(min_length=1)


class RulingIn(BaseModel):
    ruling: Literal["uphold", "reject"]
    comment: str = ""


@router.get("/openapi.json", include_in_schema=False)
@allow(LOGGED_IN)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/me")
@allow(LOGGED_IN)
def me(who: Who) -> dict[str, Any]:
    viewer = who.viewer
    return {"username": viewer.username, "role": viewer.role, "agent_id": viewer.agent_code, "team": viewer.team,
            "permissions": sorted(p.value for p in Permission if viewer.may(p))}


@router.get("/calls", response_model=CallList)
@allow(Permission.SEE_CALLS)
def list_calls(
    request: Request, who: Who, flagged: bool | None = None, agent: str | None = None, team: str | None = None,
    date_from: date | None = None, date_to: date | None = None, rule: str | None = None,
    state: ReviewState | None = None, page: Annotated[int, Query(ge=1)] = 1,
) -> CallList:
    """Calls the user may see, worst score first; `flagged=true`: only those with findings not yet
    ruled on (open or uncertain); `state`: open, uncertain, reviewed, clean or any."""
    filters = WorklistFilters(date_from=date_from, date_to=date_to, team=team, agent=agent, rule=rule,
                              state=state or (ReviewState.OPEN if flagged else ReviewState.ANY))
    with request.app.state.store.session() as session:
        listing = worklist(session, who.viewer, filters, timezone=request.app.state.settings.timezone, page=page,
                           page_size=API_PAGE_SIZE)
    return CallList(
        items=[CallItem(call_id=r.call_id, agent_id=r.agent_id, team=r.team, started_at=r.started_at, score=r.score,
                        open_findings=r.open_findings, uncertain_findings=r.uncertain_findings)
               for r in listing.rows],
        total=listing.total, page=listing.page, pages=listing.pages,
    )


@router.get("/calls/{call_id}", response_model=CallOut)
@allow(Permission.SEE_CALLS)
def get_call(request: Request, who: Who, call_id: str) -> CallOut:
    with request.app.state.store.session() as session:
        detail = call_detail(session, call_id, request.app.state.settings.privacy, who.viewer)
    call = detail.call
    return CallOut(
        call_id=call.call_id, agent_id=call.agent_id, team=call.team, started_at=call.started_at,
        duration_s=call.duration_s, score=call.score,
        segments=[SegmentOut(role=u.role, start=u.start, end=u.end, text=u.text) for u in detail.utterances],
        findings=[FindingOut(id=f.finding.id, rule_id=f.finding.rule_id, title=f.finding.title, start=f.finding.start,
                             end=f.finding.end, quote=f.finding.quote, deduction=f.finding.deduction,
                             status=f.finding.status, version=f.version, match_kind=f.finding.match_kind,
                             speaker=f.finding.speaker, doubt=f.finding.doubt) for f in detail.findings],
        not_applicable=[{"rule_id": rule_id, "reason": reason} for rule_id, reason in detail.not_applicable],
        unheard=[UnheardOut(role=s.role, start=s.start, end=s.end) for s in detail.unheard],
        unheard_agent_s=detail.unheard_agent_s,
        stats=detail.stats,
    )


@router.get("/calls/{call_id}/audio", response_class=Response)
@allow(Permission.SEE_CALLS)
async def get_audio(request: Request, call_id: str) -> Response:
    """The recording (both channels) with HTTP Range: `Range: bytes=…` answers 206."""
    return await run_in_threadpool(audio_response, request, call_id)


@router.post("/findings/{finding_id}/review", response_model=ReviewOut)
@allow(Permission.REVIEW)
def post_review(request: Request, who: Who, finding_id: int, body: ReviewIn) -> ReviewOut:
    """Confirm or overturn; the call's score is recomputed. 409 when someone decided it meanwhile."""
    with request.app.state.store.transaction() as session:
        finding = review_as(session, who.viewer, finding_id, confirm=body.decision == "confirm", comment=body.comment,
                            now=utcnow(), seen_version=body.version)
        call = finding.call
        return ReviewOut(call_id=call.call_id, score=call.qa_score, finding_id=finding.id, status=finding.status,
                         version=finding.version)


@router.post("/findings/{finding_id}/appeal")
@allow(Permission.APPEAL)
def post_appeal(request: Request, who: Who, finding_id: int, body: AppealIn) -> dict[str, Any]:
    with request.app.state.store.transaction() as session:
        appeal = appeal_as(session, who.viewer, finding_id, reason=body.reason,
                           window_days=request.app.state.settings.appeal_window_days, now=utcnow())
        return {"appeal_id": appeal.id, "finding_id": finding_id, "status": appeal.status}


@router.post("/appeals/{appeal_id}/ruling")
@allow(Permission.RULE_APPEALS)
def post_ruling(request: Request, who: Who, appeal_id: int, body: RulingIn) -> dict[str, Any]:
    with request.app.state.store.transaction() as session:
        appeal = decide_appeal(session, appeal_id, uphold=body.ruling == "uphold", by=who.viewer.username,
                               comment=body.comment.strip(), now=utcnow())
        return {"appeal_id": appeal.id, "status": appeal.status, "finding_id": appeal.finding_id,
                "finding_status": appeal.finding.status, "score": appeal.finding.call.qa_score}
