"""Logging in and out: throttling per name, disabled accounts, idle sessions, and the cookies."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from qcpipe.accounts import log_in as account_log_in
from qcpipe.accounts.service import LOCKOUT, MAX_FAILURES
from qcpipe.store.models import LoginFailure, User, WebSession, utcnow
from qcpipe.web import create_app, pages
from qcpipe.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.helpers.web import PASSWORD, csrf_of, log_in, logged_in

LOCKED = "too many failed logins"


def _fail(client, name: str, times: int) -> list[int]:
    return [log_in(client, name, "not-the-password").status_code for _ in range(times)]


def test_five_wrong_passwords_lock_the_name_even_for_the_right_one(client, center) -> None:
    statuses = _fail(client, "monitor1", MAX_FAILURES)
    assert statuses[: MAX_FAILURES - 1] == [401] * (MAX_FAILURES - 1)
    assert statuses[-1] in (401, 429)
    sixth = log_in(client, "monitor1", PASSWORD)
    assert sixth.status_code == 429
    assert LOCKED in sixth.text and "15 min" in sixth.text
    assert SESSION_COOKIE not in sixth.cookies and SESSION_COOKIE not in client.cookies
    # Other names are not locked by it.
    assert log_in(TestClient(client.app, follow_redirects=False), "monitor2").status_code == 303


def test_an_unknown_name_is_throttled_the_same_way(client) -> None:
    known, unknown = TestClient(client.app, follow_redirects=False), client
    assert _fail(unknown, "nobody", MAX_FAILURES) == _fail(known, "monitor1", MAX_FAILURES)
    first_refusal = log_in(unknown, "nobody", PASSWORD)
    assert first_refusal.status_code == 429 and LOCKED in first_refusal.text
    # Nothing tells the two apart.
    assert log_in(known, "monitor1", PASSWORD).status_code == 429


def test_after_the_lockout_the_right_password_works(client, center, monkeypatch) -> None:
    _fail(client, "monitor1", MAX_FAILURES)
    assert log_in(client, "monitor1", PASSWORD).status_code == 429
    later = utcnow() + LOCKOUT + timedelta(minutes=1)
    monkeypatch.setattr(pages, "utcnow", lambda: later)
    accepted = log_in(client, "monitor1", PASSWORD)
    assert accepted.status_code == 303 and SESSION_COOKIE in accepted.cookies
    with center.session() as session:
        assert session.get(LoginFailure, "monitor1") is None  # the count starts again


def test_the_lockout_ends_when_it_says(center) -> None:
    now = utcnow()
    with center.transaction() as session:
        for _ in range(MAX_FAILURES):
            assert account_log_in(session, "monitor1", "wrong", now=now).token is None
    with center.transaction() as session:
        still = account_log_in(session, "monitor1", PASSWORD, now=now + LOCKOUT - timedelta(seconds=1))
        assert still.token is None and LOCKED in still.refused
    with center.transaction() as session:
        assert account_log_in(session, "monitor1", PASSWORD, now=now + LOCKOUT + timedelta(seconds=1)).token


def test_a_disabled_account_cannot_log_in_and_its_session_ends(browser, client) -> None:
    agent, admin = browser("agent07"), browser("admin")
    assert agent.get("/worklist").status_code == 200
    assert admin.form("/users/agent07/disable").status_code == 303
    ended = agent.get("/worklist")
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    assert agent.get("/api/me").status_code == 401
    refused = log_in(client, "agent07", PASSWORD)
    assert refused.status_code == 401 and SESSION_COOKIE not in refused.cookies
    assert admin.form("/users/agent07/disable", {"enable": "true"}).status_code == 303
    assert log_in(client, "agent07", PASSWORD).status_code == 303


def test_a_session_idle_too_long_is_sent_to_log_in(browser, center, web_settings) -> None:
    monitor = browser("monitor1")
    idle = timedelta(minutes=web_settings.idle_timeout_min)
    with center.transaction() as session:
        session.execute(update(WebSession).values(last_seen_at=utcnow() - idle + timedelta(minutes=2)))
    assert monitor.get("/worklist").status_code == 200  # idle a while, not too long
    with center.transaction() as session:
        session.execute(update(WebSession).values(last_seen_at=utcnow() - idle - timedelta(minutes=1)))
    expired = monitor.get("/worklist?state=any")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?next=/worklist%3Fstate%3Dany"
    assert monitor.get("/api/me").status_code == 401
    with center.session() as session:
        assert session.scalars(select(WebSession)).all() == []  # ended, not just refused


def test_logging_out_ends_the_session(browser, center) -> None:
    monitor = browser("monitor1")
    token = monitor.client.cookies[SESSION_COOKIE]
    with center.session() as session:
        # Only the token's sha256 is kept.
        assert session.scalars(select(WebSession.token_hash)).all() == [hashlib.sha256(token.encode()).hexdigest()]
    out = monitor.form("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    monitor.client.cookies.set(SESSION_COOKIE, token)  # the old cookie, kept by someone
    again = monitor.get("/worklist")
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert monitor.get("/api/me").status_code == 401
    with center.session() as session:
        assert session.scalars(select(WebSession)).all() == []


def _cookie_header(response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0].lower()


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_cookie_flags(secure, center, web_settings) -> None:
    app = create_app(replace(web_settings, secure_cookies=secure), center)
    client = TestClient(app, base_url="https://testserver" if secure else "http://testserver", follow_redirects=False)
    form = client.get("/login")
    login_cookie = _cookie_header(form, LOGIN_CSRF_COOKIE)
    assert "httponly" in login_cookie and "samesite=strict" in login_cookie
    assert ("; secure" in login_cookie) is secure
    response = client.post("/login", data={"username": "monitor1", "password": PASSWORD, "csrf_token": csrf_of(form.text)})
    assert response.status_code == 303
    session_cookie = _cookie_header(response, SESSION_COOKIE)
    assert "httponly" in session_cookie and "samesite=lax" in session_cookie and "path=/" in session_cookie
    assert ("; secure" in session_cookie) is secure


def test_the_password_is_checked(client, center) -> None:
    assert log_in(client, "monitor1", PASSWORD.upper()).status_code == 401
    assert logged_in(client, "monitor1")
    with center.session() as session:
        assert session.scalars(select(User.username).join(WebSession)).all() == ["monitor1"]
