"""The pages. Each parses its request, calls a service, and renders: nothing more."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from qcpipe.accounts import AccountError, Permission, add_user, list_users, log_in, log_out, set_disabled, set_password
from qcpipe.calls import call_detail, visible_call
from qcpipe.calls.audio import playable
from qcpipe.config import data_dir
from qcpipe.errors import NotFoundError, QcpipeError, shown_path
from qcpipe.review import appeal_as, decide_appeal, pending_appeals, review_as
from qcpipe.review.assignment import assign_flagged, finish_assignment, monitors_of, sample_unflagged
from qcpipe.review.worklist import PAGE_SIZE, ReviewState, WorklistFilters, next_call, worklist
from qcpipe.store.models import UserRole, utcnow
from qcpipe.web.render import render
from qcpipe.web.security import (
    LOGGED_IN,
    LOGIN_CSRF_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    Identity,
    allow,
    check_login_csrf,
    enforce,
    identity,
    safe_next,
)

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
Who = Annotated[Identity, Depends(identity)]


def _store(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.store


def _settings(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.settings


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- logging in and out ------------------------------------------------------------------------


@router.get("/login")
@allow(PUBLIC)
def login_form(request: Request, next: str = "/", expired: bool = False) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", csrf_token=token, next=safe_next(next), refused=None, expired=expired,
                      username="")
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=_settings(request).secure_cookies, path="/login")
    return response


@router.post("/login", dependencies=[Depends(check_login_csrf)])
@allow(PUBLIC)
def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/") -> Response:
    with _store(request).transaction() as session:
        outcome = log_in(session, username, password, now=utcnow())
    if outcome.token is None:
        status = 429 if "too many" in (outcome.refused or "") else 401
        return render(request, "login.html", status_code=status, csrf_token=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                      next=safe_next(next), refused=outcome.refused, expired=False, username=username)
    response = _back(safe_next(next))
    response.set_cookie(SESSION_COOKIE, outcome.token, httponly=True, samesite="lax",
                        secure=_settings(request).secure_cookies, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
@allow(LOGGED_IN)
def logout(request: Request) -> Response:
    with _store(request).transaction() as session:
        log_out(session, request.cookies.get(SESSION_COOKIE, ""))
    response = _back("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
@allow(LOGGED_IN)
def home(who: Who) -> Response:
    if who.viewer.may(Permission.SEE_CALLS):
        return _back("/worklist")
    return _back("/users")


# --- the worklist and the call page ------------------------------------------------------------


def _filters(who: Identity, date_from: date | None, date_to: date | None, team: str | None, agent: str | None,
             rule: str | None, state: ReviewState | None, score_below: float | None, queue: str | None) -> WorklistFilters:
    mine = queue == "mine" and who.viewer.may(Permission.REVIEW)
    # An agent's list is all their calls; a monitor's, the open ones (or everything in their queue).
    default_state = ReviewState.ANY if mine or not who.viewer.may(Permission.REVIEW) else ReviewState.OPEN
    return WorklistFilters(date_from=date_from, date_to=date_to, team=team or None, agent=agent or None,
                           rule=rule or None, state=state or default_state, score_below=score_below,
                           assigned_to=who.viewer.username if mine else None)


@router.get("/worklist")
@allow(Permission.SEE_CALLS)
def worklist_page(
    request: Request, who: Who, date_from: date | None = None, date_to: date | None = None, team: str | None = None,
    agent: str | None = None, rule: str | None = None, state: ReviewState | None = None,
    score_below: Annotated[float | None, Query(ge=0, le=100)] = None, queue: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    filters = _filters(who, date_from, date_to, team, agent, rule, state, score_below, queue)
    with _store(request).session() as session:
        listing = worklist(session, who.viewer, filters, timezone=_settings(request).timezone, page=page,
                           page_size=PAGE_SIZE)
    query = {k: v for k, v in request.query_params.items() if k != "page"}
    return render(request, "worklist.html", listing=listing, filters=filters, states=list(ReviewState),
                  queue=queue, query=urlencode(query), context=urlencode({k: v for k, v in query.items()}))


@router.get("/calls/{call_id}")
@allow(Permission.SEE_CALLS)
def call_page(request: Request, who: Who, call_id: str) -> Response:
    settings = _settings(request)
    with _store(request).session() as session:
        detail = call_detail(session, call_id, settings.privacy, who.viewer)
    listed = {k: v for k, v in request.query_params.items() if k in _LIST_KEYS}
    now = utcnow()
    return render(
        request, "call.html", detail=detail, call=detail.call, context=urlencode(listed),
        # The window runs from when the finding began to deduct (an uncertain one has not yet).
        appeal_open={f.finding.id: f.deducting_since is not None
                     and now <= f.deducting_since + timedelta(days=settings.appeal_window_days)
                     for f in detail.findings},
        appeal_window_days=settings.appeal_window_days,
        audio_ok=detail.recording.is_file(),
    )


_LIST_KEYS = ("date_from", "date_to", "team", "agent", "rule", "state", "score_below", "queue")


@router.get("/calls/{call_id}/next")
@allow(Permission.SEE_CALLS)
def next_call_page(
    request: Request, who: Who, call_id: str, date_from: date | None = None, date_to: date | None = None,
    team: str | None = None, agent: str | None = None, rule: str | None = None, state: ReviewState | None = None,
    score_below: float | None = None, queue: str | None = None,
) -> Response:
    filters = _filters(who, date_from, date_to, team, agent, rule, state, score_below, queue)
    with _store(request).session() as session:
        following = next_call(session, who.viewer, call_id, filters, timezone=_settings(request).timezone)
    context = urlencode({k: v for k, v in request.query_params.items() if k in _LIST_KEYS})
    if following is None:
        return _back(f"/worklist?{context}&done=1" if context else "/worklist?done=1")
    return _back(f"/calls/{following}" + (f"?{context}" if context else ""))


@router.get("/calls/{call_id}/audio")
@allow(Permission.SEE_CALLS)
async def call_audio(request: Request, call_id: str) -> Response:
    return await run_in_threadpool(audio_response, request, call_id)


def audio_response(request: Request, call_id: str) -> Response:
    """The recording, both channels, with HTTP Range (206) for seeking. Shared with the API."""
    viewer = identity(request).viewer
    with _store(request).session() as session:
        call = visible_call(session, call_id, viewer)
        recording, content_hash = call.recording_path, call.content_hash
    if not recording.is_file():  # moved or deleted since: not found, as the call page says (not a bad request)
        raise NotFoundError(f"the recording of call {call_id} is missing or was moved: {shown_path(recording)}")
    audio = playable(recording, content_hash, data_dir() / "audio-cache")
    return FileResponse(audio.path, media_type=audio.media_type, headers={"Cache-Control": "private, max-age=3600"})


# --- decisions ---------------------------------------------------------------------------------


@router.post("/findings/{finding_id}/review")
@allow(Permission.REVIEW)
def review_form(
    request: Request, who: Who, finding_id: int, decision: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "", version: Annotated[int | None, Form()] = None,
    context: Annotated[str, Form()] = "",
) -> Response:
    with _store(request).transaction() as session:
        finding = review_as(session, who.viewer, finding_id, confirm=_decision(decision), comment=comment,
                            now=utcnow(), seen_version=version)
        call_id = finding.call.call_id
    return _back(f"/calls/{call_id}" + (f"?{context}" if context else "") + f"#finding-{finding_id}")


def _decision(decision: str) -> bool:
    if decision not in ("confirm", "overturn"):
        raise QcpipeError(f"decision must be confirm or overturn, not '{decision}'")
    return decision == "confirm"


@router.post("/calls/{call_id}/done")
@allow(Permission.REVIEW)
def assignment_done(request: Request, who: Who, call_id: str) -> Response:
    with _store(request).transaction() as session:
        visible_call(session, call_id, who.viewer)
        finish_assignment(session, call_id, who.viewer.username, utcnow())
    return _back(f"/calls/{call_id}/next?queue=mine")


@router.post("/findings/{finding_id}/appeal")
@allow(Permission.APPEAL)
def appeal_form(request: Request, who: Who, finding_id: int, reason: Annotated[str, Form()]) -> Response:
    with _store(request).transaction() as session:
        appeal = appeal_as(session, who.viewer, finding_id, reason=reason,
                           window_days=_settings(request).appeal_window_days, now=utcnow())
        call_id = appeal.finding.call.call_id
    return _back(f"/calls/{call_id}#finding-{finding_id}")


@router.get("/appeals")
@allow(Permission.RULE_APPEALS)
def appeals_page(request: Request) -> Response:
    with _store(request).session() as session:
        pending = pending_appeals(session, _settings(request).privacy)
    return render(request, "appeals.html", pending=pending)


@router.post("/appeals/{appeal_id}/rule")
@allow(Permission.RULE_APPEALS)
def rule_appeal(request: Request, who: Who, appeal_id: int, ruling: Annotated[str, Form()],
                comment: Annotated[str, Form()] = "") -> Response:
    if ruling not in ("uphold", "reject"):
        raise QcpipeError(f"ruling must be uphold or reject, not '{ruling}'")
    with _store(request).transaction() as session:
        decide_appeal(session, appeal_id, uphold=ruling == "uphold", by=who.viewer.username, comment=comment.strip(),
                      now=utcnow())
    return _back("/appeals")


# --- assigning review work ---------------------------------------------------------------------


@router.get("/assign")
@allow(Permission.ASSIGN)
def assign_page(request: Request, who: Who, done: str | None = None) -> Response:
    settings = _settings(request)
    with _store(request).session() as session:
        monitors = monitors_of(session)
        open_calls = worklist(session, who.viewer, WorklistFilters(), timezone=settings.timezone, page_size=1)
    return render(request, "assign.html", monitors=monitors, open_calls=open_calls.total, done=done,
                  sample_percent=settings.sample_percent, today=date.today().isoformat())


@router.post("/assign/flagged")
@allow(Permission.ASSIGN)
def assign_flagged_form(
    request: Request, who: Who, monitors: Annotated[list[str], Form()], how: Annotated[str, Form()] = "evenly",
    each: Annotated[int | None, Form()] = None, date_from: Annotated[date | None, Form()] = None,
    date_to: Annotated[date | None, Form()] = None, team: Annotated[str, Form()] = "",
) -> Response:
    with _store(request).transaction() as session:
        done = assign_flagged(session, who.viewer, monitors, each=each if how == "each" else None,
                              filters=WorklistFilters(date_from=date_from, date_to=date_to, team=team or None),
                              timezone=_settings(request).timezone, now=utcnow())
    summary = ", ".join(f"{m} {n}" for m, n in done.per_monitor.items())
    return _back("/assign?" + urlencode({"done": f"assigned {done.total} flagged calls: {summary}"}))


@router.post("/assign/sample")
@allow(Permission.ASSIGN)
def assign_sample_form(
    request: Request, who: Who, monitors: Annotated[list[str], Form()], week_of: Annotated[date, Form()],
    percent: Annotated[float, Form()],
) -> Response:
    with _store(request).transaction() as session:
        done = sample_unflagged(session, who.viewer, monitors, week_of=week_of, percent=percent,
                                timezone=_settings(request).timezone, now=utcnow())
    summary = ", ".join(f"{m} {n}" for m, n in done.per_monitor.items())
    return _back("/assign?" + urlencode({"done": f"sampled {done.total} unflagged calls: {summary}"}))


# --- accounts ----------------------------------------------------------------------------------


@router.get("/users")
@allow(Permission.MANAGE_USERS)
def users_page(request: Request, error: str | None = None) -> Response:
    with _store(request).session() as session:
        users = list_users(session)
    return render(request, "users.html", users=users, roles=list(UserRole), error=error)


@router.post("/users")
@allow(Permission.MANAGE_USERS)
def add_user_form(
    request: Request, who: Who, username: Annotated[str, Form()], role: Annotated[UserRole, Form()],
    password: Annotated[str, Form()], agent_code: Annotated[str, Form()] = "", team: Annotated[str, Form()] = "",
) -> Response:
    try:
        with _store(request).transaction() as session:
            add_user(session, username, role, password, by=who.viewer.username, agent_code=agent_code.strip() or None,
                     team=team.strip() or None)
    except AccountError as exc:
        return _back("/users?" + urlencode({"error": str(exc)}))
    return _back("/users")


@router.post("/users/{username}/disable")
@allow(Permission.MANAGE_USERS)
def disable_user_form(request: Request, who: Who, username: str, enable: Annotated[bool, Form()] = False) -> Response:
    with _store(request).transaction() as session:
        set_disabled(session, username, not enable, by=who.viewer.username)
    return _back("/users")


@router.post("/users/{username}/password")
@allow(Permission.MANAGE_USERS)
def password_form(request: Request, who: Who, username: str, password: Annotated[str, Form()]) -> Response:
    try:
        with _store(request).transaction() as session:
            set_password(session, username, password, by=who.viewer.username, now=utcnow())
    except AccountError as exc:
        return _back("/users?" + urlencode({"error": str(exc)}))
    return _back("/users")
