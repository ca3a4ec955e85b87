"""The web workspace in tests: a seeded center, logging in through the login form, and reading pages.

The seeded center (scripted calls scored by the default rulebook, no ASR; every recording is the
dev corpus's D110001.wav, its sha256 stored as the transcribed one):

    call  agent  team  started (Shanghai)  findings                          score
    C01   A03    一组  2026-10-08          greeting, forbidden 这不关我的事     75
    C02   A07    二组  2026-10-09          greeting, closing                 90
    C03   A03    一组  2026-10-10          none                              100
    C04   A07    二组  2026-09-20          greeting                          95
    C05   A03    一组  2026-10-12          forbidden 我都忙死了               80
    C06   A07    二组  2026-10-15          greeting, closing, forbidden      70

and an account of every role (`USERS`), all with the password `PASSWORD`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from qcpipe.asr.audio import file_sha256
from qcpipe.scoring import Rulebook
from qcpipe.store import Call
from qcpipe.store.models import FindingRecord, FindingStatus, User
from tests.helpers.paths import DEV_CORPUS
from tests.helpers.rows import seed_call

PASSWORD = "correct-horse-battery"
RECORDING = DEV_CORPUS / "audio" / "D110001.wav"  # a stereo PCM WAV: served as stored

USERS: dict[str, tuple[str, str | None, str | None]] = {  # name: (role, agent id, team)
    "admin": ("admin", None, None),
    "lead": ("qa_lead", None, None),
    "monitor1": ("monitor", None, None),
    "monitor2": ("monitor", None, None),
    "leader1": ("team_leader", None, "一组"),
    "trainer": ("trainer", None, None),
    "agent03": ("agent", "A03", None),
    "agent07": ("agent", "A07", None),
    "spare": ("trainer", None, None),  # an account for the admin's forms to change
}
# One account per role, in the order of the table.
ROLE_USER = {"agent": "agent03", "team_leader": "leader1", "trainer": "trainer", "monitor": "monitor1",
             "qa_lead": "lead", "admin": "admin"}

GREETING = "您好，欢迎致电畅联通信，请问有什么可以帮您？"
CLOSING = "感谢您的来电，祝您生活愉快，再见"
VISIT = "师傅明天上午上门检修"
TEAMS = {"A03": "一组", "A07": "二组"}
SCRIPT = "<script>alert(1)</script>"


def dialogue(first: str, answer: str = VISIT, last: str = CLOSING) -> list[list]:
    """The agent's first line, answer to a broken line, and last line."""
    return [["agent", 0, 4, first], ["customer", 4.5, 7, "我家宽带又断了，一直上不了网"], ["agent", 7.5, 11, answer],
            ["customer", 11.5, 13, "好吧"], ["agent", 13.5, 17, last]]


CALLS = {  # call id: (agent, started, dialogue)
    "C01": ("A03", "2026-10-08", dialogue("这不关我的事，你自己去营业厅问吧")),
    "C02": ("A07", "2026-10-09", dialogue("喂", last="好的")),
    "C03": ("A03", "2026-10-10", dialogue(GREETING)),
    "C04": ("A07", "2026-09-20", dialogue("喂")),
    "C05": ("A03", "2026-10-12", dialogue(GREETING, "我都忙死了，师傅明天上门")),
    "C06": ("A07", "2026-10-15", dialogue("喂", "我也没办法，等师傅明天上门", "就这样")),
}

# Verifying an argon2id hash costs what its own parameters say: the accounts of the seeded center
# carry cheap ones, so that the many logins of the web tests take milliseconds. The product's
# hasher (argon2-cffi's defaults) is untouched; accounts made through the CLI or /users get it.
_CHEAP = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)


def cheap_hash(password: str) -> str:
    return _CHEAP.hash(password)


def seed_call_rows(session: Session, rulebook: Rulebook, calls: Mapping[str, tuple[str, str, list[list]]],
                   teams: Mapping[str, str] = TEAMS) -> None:
    """Store scripted `calls` ({call id: (agent, started, dialogue)}), each pointing at `RECORDING`."""
    digest = file_sha256(RECORDING)
    for call_id, (agent, started, turns) in calls.items():
        call = seed_call(session, turns, call_id=call_id, agent=agent, team=teams[agent], started_at=started,
                         rulebook=rulebook)
        call.audio_path, call.content_hash = str(RECORDING), digest


def seed_center(session: Session, rulebook: Rulebook) -> None:
    """The calls of `CALLS` and the accounts of `USERS`."""
    seed_call_rows(session, rulebook, CALLS)
    password_hash = cheap_hash(PASSWORD)
    for name, (role, agent_code, team) in USERS.items():
        session.add(User(username=name, role=role, agent_code=agent_code, team=team, password_hash=password_hash,
                         disabled=False))


# --- reading the database ------------------------------------------------------------------------


def stored_call(session: Session, call_id: str) -> Call:
    return session.scalars(select(Call).where(Call.call_id == call_id)).one()


def finding_of(session: Session, call_id: str, rule_id: str) -> FindingRecord:
    """The finding of `rule_id` on a call."""
    return next(f for f in stored_call(session, call_id).findings if f.rule_id == rule_id)


def recomputed_score(call: Call) -> float:
    """The score a call should have now: 100 − what its findings not overturned deduct (the seeded
    rulebook findings carry no veto)."""
    assert not any(f.veto for f in call.findings)
    return max(0.0, 100.0 - sum(f.deduction for f in call.findings if f.status != FindingStatus.OVERTURNED))


# --- reading pages -------------------------------------------------------------------------------

_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_LOGIN_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The page's `<meta name="csrf-token">`."""
    found = _META_CSRF.search(html)
    assert found, "no <meta name=\"csrf-token\"> on the page"
    return found.group(1)


def listed_calls(html: str) -> set[str]:
    """The call ids of a worklist page's rows."""
    return set(re.findall(r'<tr data-call-id="([^"]+)"', html))


def finding_versions(html: str) -> dict[int, int]:
    """{finding id: data-version} of a call page."""
    return {int(f): int(v) for f, v in re.findall(r'data-finding-id="(\d+)"[^>]*data-version="(\d+)"', html)}


def log_in(client: TestClient, name: str, password: str = PASSWORD, next: str = "/") -> Response:
    """The login form as a browser sends it: GET /login (its token cookie and field), then POST."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    token = _LOGIN_FIELD.search(form.text)
    assert token, "no csrf_token field on the login form"
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token.group(1),
                                       "next": next})


def logged_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log `client` in as `name` through the login form; the session's CSRF token."""
    response = log_in(client, name, password)
    assert response.status_code == 303, f"login of {name} refused ({response.status_code}): {response.text[:500]}"
    page = client.get("/worklist")
    assert page.status_code == 200, page.text[:500]
    return csrf_of(page.text)


@dataclass
class Browser:
    """A logged-in client and its session's CSRF token: forms send it as a field, the API as a header."""

    client: TestClient
    csrf: str

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.client.get(url, **kwargs)

    def form(self, url: str, data: Mapping[str, Any] | None = None) -> Response:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf})

    def api(self, url: str, body: Any = None) -> Response:
        return self.client.post(url, json=body if body is not None else {}, headers={"X-CSRF-Token": self.csrf})
