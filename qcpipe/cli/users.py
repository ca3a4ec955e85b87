"""`qcpipe users`: the web workspace's accounts (admin work, from the server's shell)."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from qcpipe.accounts import ROLE_TITLES, add_user, list_users, set_disabled, set_password
from qcpipe.cli.common import DbOption, open_store, settings_of, stdout, table
from qcpipe.errors import UsageError
from qcpipe.periods import zone
from qcpipe.store.models import UserRole, utcnow

app = typer.Typer(help="Accounts of the web workspace.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input (scripts).")
]


def _password(from_stdin: bool) -> str:
    """From stdin (first line), or asked twice without echo. Never an option: it would stay in
    the shell's history and the process list."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: give it on standard input with --password-stdin")
    first, second = getpass.getpass("password: "), getpass.getpass("again: ")
    if first != second:
        raise UsageError("the two passwords differ")
    return first


def _operator() -> str:
    return f"shell:{getpass.getuser()}"


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name (an agent's may be their 工号).")],
    role: Annotated[UserRole, typer.Option("--role", help="admin, qa_lead, monitor, team_leader, trainer or agent.")],
    agent_id: Annotated[str | None, typer.Option("--agent-id", help="An agent's 工号: whose calls are theirs.")] = None,
    team: Annotated[str | None, typer.Option("--team", help="A team leader's team.")] = None,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Add an account. The password is stored as an argon2 hash only."""
    settings = settings_of(ctx, db_url=db)
    password = _password(password_stdin)
    with open_store(settings) as store, store.transaction() as session:
        add_user(session, name, role, password, by=_operator(), agent_code=agent_id, team=team)
    stdout.print(f"added {name} ({role.value} {ROLE_TITLES[role]})", highlight=False, markup=False)


@app.command("list")
def list_command(ctx: typer.Context, db: DbOption = None) -> None:
    """Every account: name, role, agent id or team, disabled or not."""
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.session() as session:
        users = list_users(session)
    rows = table("name", "role", "agent id", "team", "status", "created")
    center = zone(settings.timezone)
    for user in users:
        rows.add_row(user.username, user.role, user.agent_code or "", user.team or "",
                     "disabled" if user.disabled else "active", f"{user.created_at.astimezone(center):%Y-%m-%d %H:%M}")
    stdout.print(rows)


@app.command("set-password")
def set_password_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Login name.")], password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Set a new password; the user's open sessions end."""
    settings = settings_of(ctx, db_url=db)
    password = _password(password_stdin)
    with open_store(settings) as store, store.transaction() as session:
        set_password(session, name, password, by=_operator(), now=utcnow())
    stdout.print(f"password of {name} changed; their sessions were ended", highlight=False, markup=False)


@app.command("disable")
def disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Login name.")], db: DbOption = None) -> None:
    """Disable an account: it can no longer log in, and its sessions end. History is kept."""
    _set_disabled(ctx, name, True, db)


@app.command("enable")
def enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Login name.")], db: DbOption = None) -> None:
    """Enable a disabled account again."""
    _set_disabled(ctx, name, False, db)


def _set_disabled(ctx: typer.Context, name: str, disabled: bool, db: str | None) -> None:
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.transaction() as session:
        set_disabled(session, name, disabled, by=_operator())
    stdout.print(f"{name} {'disabled' if disabled else 'enabled'}", highlight=False, markup=False)
