"""Who is asking, and may they: sessions, CSRF, and the permission every route declares.

Every route function is marked with `@allow(...)`: a `Permission`, `LOGGED_IN` (any account) or
`PUBLIC` (the login page, static files). A dependency on every router reads the mark of the
route being served and enforces it on the server, on every request: a route without a mark is
refused (fail closed), so a new route cannot be reachable by mistake.

CSRF: each session has a random token, given to pages as `<meta name="csrf-token">`; every
state-changing request (any method but GET/HEAD/OPTIONS), forms and the JSON API alike, must
send it back as the `X-CSRF-Token` header or the `csrf_token` form field. The login form, made
before there is a session, uses a token kept in a cookie of its own (double submit).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from qcpipe.accounts import Permission, Viewer, resume
from qcpipe.store.models import utcnow

SESSION_COOKIE = "qcpipe_session"
LOGIN_CSRF_COOKIE = "qcpipe_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PUBLIC = "public"
LOGGED_IN = "logged_in"
Requirement = Permission | str

F = TypeVar("F", bound=Callable[..., Any])


def allow(requirement: Requirement) -> Callable[[F], F]:
    """Mark a route function with what it needs: `@allow(Permission.REVIEW)`, `@allow(LOGGED_IN)`, `@allow(PUBLIC)`."""

    def mark(function: F) -> F:
        function.__qcpipe_requires__ = requirement  # type: ignore[attr-defined]
        return function

    return mark


def requirement_of(endpoint: Callable[..., Any]) -> Requirement | None:
    return getattr(endpoint, "__qcpipe_requires__", None)


@dataclass(frozen=True)
class Identity:
    """The logged-in person of a request: who, and their session's CSRF token."""

    viewer: Viewer
    csrf_token: str


class LoginRequired(Exception):
    """No live session: a page redirects to the login form, the API answers 401."""


async def enforce(request: Request) -> None:
    """The dependency of every router: the route's mark, the session, the CSRF token."""
    endpoint = request.scope.get("endpoint")
    requirement = requirement_of(endpoint) if endpoint is not None else None
    if requirement is None:
        raise HTTPException(500, "this route declares no permission: refused")
    if requirement == PUBLIC:
        return
    identity = await run_in_threadpool(_identity, request)  # a database read: not on the event loop
    if identity is None:
        raise LoginRequired()
    request.state.identity = identity
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, identity.csrf_token)
    if requirement != LOGGED_IN and not identity.viewer.may(Permission(requirement)):
        raise HTTPException(403, f"{identity.viewer.title} ({identity.viewer.role}) may not do this")


def identity(request: Request) -> Identity:
    """The route's logged-in person (set by `enforce`)."""
    return request.state.identity


async def check_login_csrf(request: Request) -> None:
    """The login form's double-submit token: the form field must equal the cookie set with the form."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    await _check_csrf(request, cookie)


async def _check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def _identity(request: Request) -> Identity | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings = request.app.state.settings
    live = resume(request.app.state.store, token, now=utcnow(), idle_timeout=timedelta(minutes=settings.idle_timeout_min))
    return None if live is None else Identity(live.viewer, live.csrf_token)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (never //evil.example)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
