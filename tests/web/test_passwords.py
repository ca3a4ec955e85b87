"""A password is never kept or shown as typed: not in the logs (at DEBUG, SQL parameters
included), not in any column of any table, not in the CLI's output, not in a page."""

from __future__ import annotations

import logging

from sqlalchemy import inspect, select, table, text

from qcpipe.store.models import User
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.web import log_in

FIRST, SECOND, WRONG, BY_ADMIN = "Zebra-Quartz-8812", "Heron-Cobalt-4417", "Mango-Violet-3391", "Lotus-Amber-2290"
SECRETS = (FIRST, SECOND, WRONG, BY_ADMIN)


def _everything_stored(database) -> str:
    """Every value of every row of every table in the database (Alembic's too), as text."""
    with database.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        assert {"users", "web_sessions", "audit_events", "login_failures"} <= set(names)
        values = []
        for name in names:
            for row in connection.execute(select(text("*")).select_from(table(name))):
                values += [repr(value) for value in row]
    return "\n".join(values)


def test_a_password_is_stored_and_shown_nowhere(center, client, browser, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # SQLAlchemy sets its own to WARNING: its statements too
    home = tmp_path / "cli-home"
    outputs = [
        qcpipe_in_process("users", "add", "pw_monitor", "--role", "monitor", "--password-stdin", "--db", center.url,
                          home=home, input=f"{FIRST}\n"),
        qcpipe_in_process("users", "add", "pw_agent", "--role", "agent", "--agent-id", "A03", "--password-stdin",
                          "--db", center.url, home=home, input=f"{FIRST}\n"),
        qcpipe_in_process("users", "set-password", "pw_agent", "--password-stdin", "--db", center.url, home=home,
                          input=f"{SECOND}\n"),
        qcpipe_in_process("users", "list", "--db", center.url, home=home),
    ]
    logins = {(name, password): log_in(client, name, password) for name, password in (
        ("pw_monitor", WRONG), ("pw_monitor", FIRST), ("pw_agent", FIRST), ("pw_agent", SECOND))}
    assert [r.status_code for r in logins.values()] == [401, 303, 401, 303]
    pages = [r.text for r in logins.values()]
    admin = browser("admin")
    assert admin.form("/users", {"username": "pw_trainer", "role": "trainer", "password": BY_ADMIN}).status_code == 303
    assert admin.form("/users/pw_monitor/password", {"password": SECOND}).status_code == 303
    assert log_in(client, "pw_trainer", BY_ADMIN).status_code == 303
    pages += [admin.get("/users").text]

    stored, logged = _everything_stored(center), caplog.text
    assert "pw_agent" in stored and "INSERT INTO users" in logged  # what is searched does hold the rest
    shown = "\n".join([*(o.stdout + o.stderr for o in outputs), *pages])
    for secret in SECRETS:
        assert secret not in stored
        assert secret not in logged
        assert secret not in shown
    with center.session() as session:
        hashes = dict(session.execute(select(User.username, User.password_hash).where(User.username.like("pw_%"))).all())
    assert set(hashes) == {"pw_monitor", "pw_agent", "pw_trainer"}
    assert all(h.startswith("$argon2id$") for h in hashes.values())


def test_logins_with_the_cli_passwords(center, client, tmp_path) -> None:
    home = tmp_path / "cli-home"
    qcpipe_in_process("users", "add", "pw_monitor", "--role", "monitor", "--password-stdin", "--db", center.url,
                      home=home, input=f"{FIRST}\n")
    assert log_in(client, "pw_monitor", WRONG).status_code == 401
    assert log_in(client, "pw_monitor", FIRST).status_code == 303
    qcpipe_in_process("users", "set-password", "pw_monitor", "--password-stdin", "--db", center.url, home=home,
                      input=f"{SECOND}\n")
    assert client.get("/worklist").status_code == 303  # a new password ends the open sessions
    assert log_in(client, "pw_monitor", FIRST).status_code == 401
    assert log_in(client, "pw_monitor", SECOND).status_code == 303
