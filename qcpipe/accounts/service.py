"""Accounts of the web workspace: users, logins with throttling, and sessions.

Every function works inside the caller's transaction. Passwords never leave this module other
than as argon2 hashes; nothing here logs or returns one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from qcpipe import audit
from qcpipe.accounts.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from qcpipe.accounts.roles import Viewer
from qcpipe.errors import NotFoundError, QcpipeError
from qcpipe.store import Database
from qcpipe.store.models import LoginFailure, User, UserRole, WebSession

MAX_FAILURES = 5  # failed logins for one name before it is locked for a while
LOCKOUT = timedelta(minutes=15)
_TOUCH_EVERY = timedelta(minutes=1)


class AccountError(QcpipeError):
    """A user change that cannot be made (name taken, weak password, missing agent id …)."""


@dataclass(frozen=True)
class UserRow:
    """A user as the admin sees them (never the password hash)."""

    username: str
    role: str
    agent_code: str | None
    team: str | None
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class LiveSession:
    """A logged-in browser's person and CSRF token."""

    viewer: Viewer
    csrf_token: str


@dataclass(frozen=True)
class Login:
    """The outcome of a login: a session (its cookie token and CSRF token) or why not."""

    user: User | None
    token: str | None = None
    csrf_token: str | None = None
    refused: str | None = None


def add_user(
    session: Session, username: str, role: UserRole | str, password: str, *, by: str,
    agent_code: str | None = None, team: str | None = None,
) -> User:
    username = _checked_name(username)
    try:
        role = UserRole(role)
    except ValueError:
        raise AccountError(f"unknown role '{role}' (one of {', '.join(r.value for r in UserRole)})") from None
    if role is UserRole.AGENT and not agent_code:
        raise AccountError("an agent account needs --agent-id: the 工号 whose calls are theirs")
    if role is UserRole.TEAM_LEADER and not team:
        raise AccountError("a team leader account needs --team: the team whose calls they see")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user '{username}' exists already")
    user = User(username=username, role=role, agent_code=agent_code or None, team=team or None,
                password_hash=hash_password(_checked_password(password)), disabled=False)
    session.add(user)
    session.flush()
    audit.record(session, by, "user.add", "user", username, f"role {role}" + (f", agent {agent_code}" if agent_code else "")
                 + (f", team {team}" if team else ""))
    return user


def list_users(session: Session) -> list[UserRow]:
    return [UserRow(u.username, u.role, u.agent_code, u.team, u.disabled, u.created_at)
            for u in session.scalars(select(User).order_by(User.username))]


def set_password(session: Session, username: str, password: str, *, by: str, now: datetime) -> None:
    user = _user(session, username)
    user.password_hash = hash_password(_checked_password(password))
    user.password_changed_at = now
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))  # log out everywhere
    audit.record(session, by, "user.set_password", "user", username, at=now)


def set_disabled(session: Session, username: str, disabled: bool, *, by: str) -> None:
    user = _user(session, username)
    user.disabled = disabled
    if disabled:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit.record(session, by, "user.disable" if disabled else "user.enable", "user", username)


def log_in(session: Session, username: str, password: str, *, now: datetime) -> Login:
    """Check a name and password. After `MAX_FAILURES` failures a name is refused for `LOCKOUT`,
    whether it exists or not; the refusal says until when. The caller commits either way."""
    username = username.strip()[:64]
    failure = session.get(LoginFailure, username)
    if failure is not None and failure.locked_until is not None and failure.locked_until > now:
        audit.record(session, username or "?", "login.refused", "user", username, "locked", at=now)
        minutes = max(1, round((failure.locked_until - now).total_seconds() / 60))
        return Login(None, refused=f"too many failed logins for this name: try again in {minutes} min")
    user = session.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None or user.disabled:
        if failure is None:
            failure = LoginFailure(username=username, failures=0)
            session.add(failure)
        failure.failures = (0 if failure.locked_until is not None else failure.failures) + 1
        failure.locked_until = now + LOCKOUT if failure.failures >= MAX_FAILURES else None
        failure.last_failed_at = now
        audit.record(session, username or "?", "login.failed", "user", username, at=now)
        if failure.locked_until is not None:
            return Login(None, refused=f"too many failed logins for this name: try again in {LOCKOUT.seconds // 60} min")
        return Login(None, refused="wrong name or password")
    if failure is not None:
        session.delete(failure)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_token_hash(token), user=user, csrf_token=csrf, created_at=now, last_seen_at=now))
    audit.record(session, username, "login", "user", username, at=now)
    return Login(user, token, csrf)


def resume(database: Database, token: str, *, now: datetime, idle_timeout: timedelta) -> LiveSession | None:
    """The live session of a cookie token; None when unknown, idle for longer than
    `idle_timeout` (it is then ended), or its user was disabled.

    A page view only reads; the session's idle clock is written at most once a minute, in a
    short transaction of its own, so that browsing never queues behind the nightly batch.
    """
    token_hash = _token_hash(token)
    with database.session() as session:
        web_session = session.get(WebSession, token_hash) if token else None
        if web_session is None:
            return None
        user = web_session.user
        live = LiveSession(Viewer.of(user), web_session.csrf_token)
        expired = web_session.last_seen_at < now - idle_timeout or user.disabled
        stale = now - web_session.last_seen_at > _TOUCH_EVERY
    if expired:
        with database.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
            audit.record(session, live.viewer.username, "session.expired", "user", live.viewer.username, at=now)
        return None
    if stale:
        with database.transaction() as session:
            session.execute(update(WebSession).where(WebSession.token_hash == token_hash).values(last_seen_at=now))
    return live


def log_out(session: Session, token: str) -> None:
    web_session = session.get(WebSession, _token_hash(token)) if token else None
    if web_session is not None:
        audit.record(session, web_session.user.username, "logout", "user", web_session.user.username)
        session.delete(web_session)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user '{username}'")
    return user


def _checked_name(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 64 or any(c.isspace() or ord(c) < 32 for c in name):
        raise AccountError(f"user name '{username}' must be 1–64 characters without spaces")
    return name


def _checked_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise AccountError(f"a password needs at least {MIN_LENGTH} characters")
    return password
