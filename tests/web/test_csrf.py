"""CSRF: every state-changing request carries the session's token, forms and the JSON API alike;
the login form carries the token of its own cookie (double submit)."""

from __future__ import annotations

import pytest

from qcpipe.store.models import FindingStatus
from qcpipe.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.helpers.web import PASSWORD, finding_of, stored_call


@pytest.fixture
def greeting(center) -> int:
    with center.session() as session:
        return finding_of(session, "C01", "greeting").id


def _unchanged(center, finding_id: int) -> None:
    with center.session() as session:
        finding = finding_of(session, "C01", "greeting")
        assert (finding.id, finding.status, finding.version, finding.reviews) == (finding_id, FindingStatus.OPEN, 1, [])
        assert stored_call(session, "C01").qa_score == 75


@pytest.mark.parametrize("token", [None, "wrong", ""], ids=["missing", "wrong", "empty"])
def test_a_form_without_the_sessions_token_is_refused_and_changes_nothing(token, center, browser, greeting) -> None:
    monitor = browser("monitor1")
    data = {"decision": "overturn", **({"csrf_token": token} if token is not None else {})}
    response = monitor.client.post(f"/findings/{greeting}/review", data=data)
    assert response.status_code == 403
    assert "CSRF" in response.text
    _unchanged(center, greeting)


@pytest.mark.parametrize("token", [None, "wrong"], ids=["missing", "wrong"])
def test_the_api_without_the_sessions_token_is_refused_and_changes_nothing(token, center, browser, greeting) -> None:
    monitor = browser("monitor1")
    headers = {"X-CSRF-Token": token} if token is not None else {}
    response = monitor.client.post(f"/api/findings/{greeting}/review", json={"decision": "overturn"}, headers=headers)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    _unchanged(center, greeting)


def test_another_sessions_token_is_wrong(center, browser, greeting) -> None:
    monitor, other = browser("monitor1"), browser("monitor2")
    assert monitor.csrf != other.csrf
    response = monitor.client.post(f"/api/findings/{greeting}/review", json={"decision": "overturn"},
                                   headers={"X-CSRF-Token": other.csrf})
    assert response.status_code == 403
    _unchanged(center, greeting)


def test_with_the_token_the_same_requests_go_through(center, browser, greeting) -> None:
    monitor = browser("monitor1")
    assert monitor.form(f"/findings/{greeting}/review", {"decision": "confirm"}).status_code == 303
    assert monitor.api(f"/api/findings/{greeting}/review", {"decision": "confirm"}).status_code == 200


def test_logout_needs_the_token_too(browser) -> None:
    monitor = browser("monitor1")
    assert monitor.client.post("/logout").status_code == 403
    assert monitor.get("/worklist").status_code == 200  # still logged in


def _login_form(client) -> str:
    form = client.get("/login")
    return form.cookies[LOGIN_CSRF_COOKIE]


def test_login_without_the_form_token_or_its_cookie_is_refused(client) -> None:
    token = _login_form(client)
    fields = {"username": "monitor1", "password": PASSWORD}
    assert client.post("/login", data=fields).status_code == 403  # no field
    assert client.post("/login", data={**fields, "csrf_token": "forged"}).status_code == 403  # not the cookie's
    client.cookies.clear()
    refused = client.post("/login", data={**fields, "csrf_token": token})  # the field, but no cookie
    assert refused.status_code == 403
    assert SESSION_COOKIE not in refused.cookies
    # With both, it works.
    token = _login_form(client)
    accepted = client.post("/login", data={**fields, "csrf_token": token})
    assert accepted.status_code == 303
    assert SESSION_COOKIE in accepted.cookies
