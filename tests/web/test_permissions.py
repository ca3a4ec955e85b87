"""Every route of the pages and the API, for every role and for no one: the issue's table.

    |                            | agent          | team_leader | trainer | monitor | qa_lead | admin |
    | see calls, findings, audio | own only       | own team    | all     | all     | all     | all   |
    | confirm / overturn         | –              | –           | –       | ✓       | ✓       | ✓     |
    | appeal a finding           | own, in window | –           | –       | –       | –       | –     |
    | rule on appeals            | –              | –           | –       | ✓       | ✓       | ✓     |
    | assign review work         | –              | –           | –       | –       | ✓       | ✓     |
    | manage users               | –              | –           | –       | –       | –       | ✓     |
    | monthly reports, scorecards| –              | own team    | –       | –       | all     | all   |
    | own scorecard (/me)        | ✓              | –           | –       | –       | –       | –     |
    | training library, packs    | –              | –           | ✓       | –       | ✓       | ✓     |
    | edit/preview/publish rules | –              | –           | –       | –       | ✓       | ✓     |
    | calibration, audit, jobs   | –              | –           | –       | –       | ✓       | ✓     |
    | retry failed calls         | –              | –           | –       | –       | –       | ✓     |

`EXPECTED` writes it per route: a route added without a line here fails `test_every_route_is_in_the_table`.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from qcpipe.review import file_appeal
from qcpipe.scoring import DEFAULT_RULEBOOK
from qcpipe.store import Call, CallStatus
from qcpipe.store.models import utcnow
from qcpipe.web.app import ROUTERS
from qcpipe.web.security import PUBLIC, requirement_of
from tests.helpers.web import ROLE_USER, USERS, finding_of

AGENT, TEAM_LEADER, TRAINER, MONITOR, QA_LEAD, ADMIN = ROLE_USER
EVERYONE = frozenset(ROLE_USER)
SEE = EVERYONE  # within each one's scope: own calls, own team's, all
REVIEW = frozenset({MONITOR, QA_LEAD, ADMIN})
APPEAL = frozenset({AGENT})
RULE = frozenset({MONITOR, QA_LEAD, ADMIN})
ASSIGN = frozenset({QA_LEAD, ADMIN})
USERS_ = frozenset({ADMIN})
REPORTS = frozenset({TEAM_LEADER, QA_LEAD, ADMIN})  # monthly reports and scorecards, within each one's scope
OWN_CARD = frozenset({AGENT})
TRAIN = frozenset({TRAINER, QA_LEAD, ADMIN})
RULES = frozenset({QA_LEAD, ADMIN})  # edit, preview and publish rulebooks
CALIBRATE = AUDIT = JOBS = frozenset({QA_LEAD, ADMIN})
RETRY = frozenset({ADMIN})

EXPECTED: dict[str, frozenset[str] | str] = {  # "METHOD path": the roles that may, or PUBLIC
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /logout": EVERYONE,
    "GET /": EVERYONE,
    "GET /worklist": SEE,
    "GET /calls/{call_id}": SEE,
    "GET /calls/{call_id}/next": SEE,
    "GET /calls/{call_id}/audio": SEE,
    "POST /findings/{finding_id}/review": REVIEW,
    "POST /calls/{call_id}/done": REVIEW,
    "POST /findings/{finding_id}/appeal": APPEAL,
    "GET /appeals": RULE,
    "POST /appeals/{appeal_id}/rule": RULE,
    "GET /assign": ASSIGN,
    "POST /assign/flagged": ASSIGN,
    "POST /assign/sample": ASSIGN,
    "GET /users": USERS_,
    "POST /users": USERS_,
    "POST /users/{username}/disable": USERS_,
    "POST /users/{username}/password": USERS_,
    "GET /api/openapi.json": EVERYONE,
    "GET /api/me": EVERYONE,
    "GET /api/calls": SEE,
    "GET /api/calls/{call_id}": SEE,
    "GET /api/calls/{call_id}/audio": SEE,
    "POST /api/findings/{finding_id}/review": REVIEW,
    "POST /api/findings/{finding_id}/appeal": APPEAL,
    "POST /api/appeals/{appeal_id}/ruling": RULE,
    # rulebook editor, versions, publishing (qcpipe/web/rulebooks.py)
    "GET /rulebook": RULES,
    "POST /rulebook/check": RULES,
    "POST /rulebook/try": RULES,
    "POST /rulebook/publish": RULES,
    "GET /rulebook/jobs/{job_id}": RULES,
    "GET /rulebook/versions": RULES,
    "GET /rulebook/versions/{number}": RULES,
    # calibration, audit log, nightly job (qcpipe/web/admin.py)
    "GET /calibration": CALIBRATE,
    "GET /calibration/{rule_id}": CALIBRATE,
    "GET /audit": AUDIT,
    "GET /audit.csv": AUDIT,
    "GET /jobs": JOBS,
    "POST /jobs/retry": RETRY,
    # training library (qcpipe/web/library.py)
    "GET /library": TRAIN,
    "GET /library/findings/{finding_id}/clip": TRAIN,
    "POST /library/findings/{finding_id}/mark": TRAIN,
    "POST /library/findings/{finding_id}/unmark": TRAIN,
    "POST /library/pack": TRAIN,
    # monthly report, heatmap, scorecards (qcpipe/web/monthly.py)
    "GET /reports/monthly": REPORTS,
    "GET /reports/monthly/download": REPORTS,
    "GET /api/reports/monthly": REPORTS,
    "GET /agents/{agent_id}": REPORTS,
    "GET /me": OWN_CARD,
    # what-if preview of a draft rulebook (qcpipe/web/whatif.py)
    "POST /api/rulebooks/preview": RULES,
    "POST /rulebook/preview": RULES,
    "GET /rulebook/preview/{job_id}": RULES,
}

# What each state-changing route is sent: valid requests, so that an allowed role reaches the work.
FORMS = {
    "POST /findings/{finding_id}/review": {"decision": "confirm", "comment": "ok"},
    "POST /findings/{finding_id}/appeal": {"reason": "我说了问候语"},
    "POST /appeals/{appeal_id}/rule": {"ruling": "reject", "comment": "维持"},
    "POST /assign/flagged": {"monitors": ["monitor1", "monitor2"], "how": "evenly"},
    "POST /assign/sample": {"monitors": ["monitor1"], "week_of": "2026-10-08", "percent": "50"},
    "POST /users": {"username": "newcomer", "role": "trainer", "password": "a-new-password"},
    "POST /users/{username}/password": {"password": "another-password"},
    # The rulebook in force, unchanged: refused as "no change" (400), so no re-scoring runs under the other rows.
    "POST /rulebook/publish": {"yaml": DEFAULT_RULEBOOK.read_text(encoding="utf-8"), "base_number": "0",
                               "comment": "unchanged"},
    "POST /jobs/retry": {"call_ids": ["F01"]},
    "POST /library/findings/{finding_id}/mark": {"note": "问候语缺失的典型案例"},
    "POST /library/pack": {"rule": "greeting", "limit": "2"},
}
JSON = {
    "POST /api/findings/{finding_id}/review": {"decision": "overturn", "comment": "听过录音"},
    "POST /api/findings/{finding_id}/appeal": {"reason": "客户先挂断"},
    "POST /api/appeals/{appeal_id}/ruling": {"ruling": "uphold", "comment": "成立"},
    "POST /rulebook/check": {"yaml": DEFAULT_RULEBOOK.read_text(encoding="utf-8")},
    "POST /rulebook/try": {"yaml": DEFAULT_RULEBOOK.read_text(encoding="utf-8"), "text": "喂，这不关我的数"},
    # A day without calls: the preview job runs and ends at once.
    "POST /rulebook/preview": {"yaml": DEFAULT_RULEBOOK.read_text(encoding="utf-8"), "date_from": "2026-01-01",
                               "date_to": "2026-01-01"},
}
# Routes whose body is neither a form nor JSON: (content type, body). Without a period the preview
# takes the last 30 days, which hold none of the seeded calls.
RAW = {
    "POST /api/rulebooks/preview": ("application/yaml", DEFAULT_RULEBOOK.read_bytes()),
}


def routes() -> list[tuple[str, APIRoute]]:
    """("METHOD path", route) of every route of every router (not app.routes: FastAPI may wrap them)."""
    found = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            found += [(f"{method} {route.path}", route) for method in sorted(route.methods)]
    return found


def test_every_route_is_in_the_table_and_declares_a_requirement() -> None:
    keys = [key for key, _ in routes()]
    assert sorted(keys) == sorted(EXPECTED), "a route was added or removed: give it a line in EXPECTED"
    undeclared = [key for key, route in routes() if requirement_of(route.endpoint) is None]
    assert not undeclared


def test_every_role_exists_in_the_seeded_center() -> None:
    assert {USERS[name][0] for name in ROLE_USER.values()} == set(ROLE_USER)


@pytest.fixture
def objects(center) -> dict[str, str]:
    """Path parameters every role may see: a call of A03 (一组, the team leader's), its finding,
    a pending appeal of A03's, and the spare account."""
    with center.transaction() as session:
        finding = finding_of(session, "C01", "greeting")
        appealed = finding_of(session, "C05", "forbidden_phrase")
        appeal = file_appeal(session, appealed.id, agent="A03", reason="没说", window_days=7, now=utcnow())
        session.add(Call(call_id="F01", audio_path="/recordings/F01.wav", status=CallStatus.FAILED,
                         error="F01.wav: empty file (0 bytes)", extra={}))  # one for the admin to retry
        session.flush()
        return {"call_id": "C01", "finding_id": str(finding.id), "appeal_id": str(appeal.id), "username": "spare", "job_id": "no-such-job", "number": "1", "rule_id": "greeting",
                "agent_id": "A03"}


def _url(path: str, objects: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: objects[m.group(1)], path)


def _request(client, key: str, objects: dict[str, str], csrf: str | None):
    method, path = key.split(" ", 1)
    url = _url(path, objects)
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if method == "GET":
        return client.get(url)
    if key in JSON:
        return client.post(url, json=JSON[key], headers=headers)
    if key in RAW:
        content_type, body = RAW[key]
        return client.post(url, content=body, headers={**headers, "Content-Type": content_type})
    return client.post(url, data=FORMS.get(key, {}), headers=headers)


@pytest.mark.parametrize("role", list(ROLE_USER))
def test_each_role_gets_exactly_what_the_table_gives(role, client, logged_in, objects) -> None:
    csrf = logged_in(client, ROLE_USER[role])
    # Logging out last: it ends the session the other requests use.
    ordered = sorted(routes(), key=lambda item: item[0] == "POST /logout")
    wrong = []
    for key, _route in ordered:
        allowed = EXPECTED[key]
        if allowed == PUBLIC:
            continue
        response = _request(client, key, objects, csrf)
        if role in allowed:
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong.append(f"{key}: {role} may, got {response.status_code} {response.text[:200]}")
        elif response.status_code != 403:
            wrong.append(f"{key}: {role} may not, got {response.status_code} (not 403)")
    assert not wrong, "\n".join(wrong)


def test_no_one_logged_in_is_sent_to_log_in(client, objects) -> None:
    wrong = []
    for key, _route in routes():
        response = _request(client, key, objects, csrf=None)
        if EXPECTED[key] == PUBLIC:
            if key.startswith("GET") and response.status_code != 200:
                wrong.append(f"{key}: public, got {response.status_code}")
            continue
        path = _url(key.split(" ", 1)[1], objects)
        if path.startswith("/api/"):
            if response.status_code != 401:
                wrong.append(f"{key}: API without a session, got {response.status_code} (not 401)")
        elif response.status_code != 303 or not response.headers["location"].startswith("/login?next="):
            wrong.append(f"{key}: page without a session, got {response.status_code} "
                         f"{response.headers.get('location')} (not 303 → /login)")
    assert not wrong, "\n".join(wrong)
