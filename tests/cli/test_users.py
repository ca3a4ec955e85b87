"""`qcpipe users`: the web workspace's accounts from the server's shell, on each backend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from qcpipe.store.models import AuditEvent, User
from tests.helpers.cli import qcpipe_in_process

PASSWORD = "Walnut-Harbor-5150"


@pytest.fixture
def users(db, tmp_path: Path):
    """users(*args, input=…, check=…): `qcpipe users …` on the test's database."""

    def run(*args: str, input: str | None = None, check: bool = True):
        return qcpipe_in_process("users", *args, "--db", db.url, home=tmp_path, input=input, check=check)

    return run


def _stored(db) -> dict[str, tuple[str, str | None, str | None, bool]]:
    with db.session() as session:
        return {u.username: (u.role, u.agent_code, u.team, u.disabled) for u in session.scalars(select(User))}


def _list_rows(output: str) -> dict[str, list[str]]:
    """`users list` as {name: [cells]} (rich's table, one line per account)."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)[1:-1]]
        if cells and cells[0] and cells[0] != "name":
            rows[cells[0]] = cells
    return rows


def test_add_list_and_each_role(users, db) -> None:
    added = [
        users("add", "boss", "--role", "admin", "--password-stdin", input=f"{PASSWORD}\n"),
        users("add", "zhang", "--role", "agent", "--agent-id", "A03", "--password-stdin", input=f"{PASSWORD}\n"),
        users("add", "wang", "--role", "team_leader", "--team", "一组", "--password-stdin", input=f"{PASSWORD}\r\n"),
    ]
    assert [a.stdout.strip() for a in added] == ["added boss (admin 管理员)", "added zhang (agent 坐席)",
                                                  "added wang (team_leader 班组长)"]
    assert _stored(db) == {"boss": ("admin", None, None, False), "zhang": ("agent", "A03", None, False),
                           "wang": ("team_leader", None, "一组", False)}
    listed = _list_rows(users("list").stdout)
    assert listed["zhang"][:5] == ["zhang", "agent", "A03", "", "active"]
    assert listed["wang"][:5] == ["wang", "team_leader", "", "一组", "active"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", listed["boss"][5])
    with db.session() as session:
        assert session.scalars(select(User.password_hash).where(User.username == "boss")).one().startswith("$argon2id$")
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == "zhang")).all()
    assert actions == ["user.add"]


def test_set_password_disable_and_enable(users, db) -> None:
    users("add", "li", "--role", "monitor", "--password-stdin", input=f"{PASSWORD}\n")
    with db.session() as session:
        before = session.scalars(select(User.password_hash).where(User.username == "li")).one()
    changed = users("set-password", "li", "--password-stdin", input="Another-Pass-77\n")
    assert "password of li changed" in changed.stdout
    with db.session() as session:
        after = session.scalars(select(User.password_hash).where(User.username == "li")).one()
    assert after != before and after.startswith("$argon2id$")

    assert users("disable", "li").stdout.strip() == "li disabled"
    assert _stored(db)["li"][3] is True
    assert _list_rows(users("list").stdout)["li"][4] == "disabled"
    assert users("enable", "li").stdout.strip() == "li enabled"
    assert _stored(db)["li"][3] is False
    with db.session() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == "li").order_by(AuditEvent.id)).all()
    assert actions == ["user.add", "user.set_password", "user.disable", "user.enable"]


@pytest.mark.parametrize(("args", "password", "message"), [
    (("add", "short", "--role", "monitor"), "seven77", "at least 8 characters"),
    (("add", "agentless", "--role", "agent"), PASSWORD, "needs --agent-id"),
    (("add", "teamless", "--role", "team_leader"), PASSWORD, "needs --team"),
    (("add", "two words", "--role", "monitor"), PASSWORD, "without spaces"),
    (("set-password", "ghost"), PASSWORD, "no user 'ghost'"),
    (("disable", "ghost"), None, "no user 'ghost'"),
    (("enable", "ghost"), None, "no user 'ghost'"),
], ids=["weak-password", "agent-without-id", "leader-without-team", "spaced-name", "unknown-set-password",
        "unknown-disable", "unknown-enable"])
def test_refusals(users, db, args, password, message) -> None:
    stdin = ("--password-stdin",) if password is not None else ()
    result = users(*args, *stdin, input=f"{password}\n" if password else None, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert _stored(db) == {}


def test_a_name_is_taken_once(users, db) -> None:
    users("add", "li", "--role", "monitor", "--password-stdin", input=f"{PASSWORD}\n")
    again = users("add", "li", "--role", "trainer", "--password-stdin", input=f"{PASSWORD}\n", check=False)
    assert again.returncode == 1 and "user 'li' exists already" in again.stderr
    assert _stored(db) == {"li": ("monitor", None, None, False)}


def test_the_password_is_never_an_option_or_asked_without_a_terminal(users, db) -> None:
    no_terminal = users("add", "li", "--role", "monitor", check=False)
    assert no_terminal.returncode == 2 and "--password-stdin" in no_terminal.stderr
    unknown_option = users("add", "li", "--role", "monitor", "--password", PASSWORD, check=False)
    assert unknown_option.returncode == 2
    unknown_role = users("add", "li", "--role", "boss", "--password-stdin", input=f"{PASSWORD}\n", check=False)
    assert unknown_role.returncode == 2 and "boss" in unknown_role.stderr
    assert _stored(db) == {}
