"""The audit trail: who did what, when. Events are only ever added (by the services, in the
transaction of what they record), never changed or deleted by the application: a session that
tries to update or delete an `AuditEvent` (a changed row, a deleted row, or an UPDATE/DELETE
statement on the table) is refused with `AuditTampering` before anything reaches the database.

Actions are "area.verb": finding.confirm / finding.overturn, appeal.file, appeal.upheld /
appeal.rejected, assignment.flagged / assignment.sample / assignment.done, user.add /
user.set_password / user.disable / user.enable, login / login.failed / login.refused, logout,
session.expired, rulebook.publish, call.retry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, event, func, or_, select
from sqlalchemy.orm import ORMExecuteState, Session

from qcpipe.paging import PageCount
from qcpipe.errors import QcpipeError
from qcpipe.periods import days_period, zone
from qcpipe.store.models import AuditEvent, utcnow

PAGE_SIZE = 50


class AuditTampering(QcpipeError):
    """An attempt to change or delete an audit event: the trail is append-only."""


def record(
    session: Session, actor: str, action: str, object_type: str, object_id: object, detail: str = "",
    at: datetime | None = None,
) -> None:
    """Add one event, e.g. record(s, "李质检", "finding.overturn", "finding", 41, "客户在说话")."""
    session.add(AuditEvent(at=at or utcnow(), actor=actor[:64], action=action, object_type=object_type,
                           object_id=str(object_id)[:128], detail=detail))


# --- append-only -------------------------------------------------------------------------------


@event.listens_for(Session, "before_flush")
def _refuse_changed_events(session: Session, _context: Any, _instances: Any) -> None:
    for row in session.deleted:
        if isinstance(row, AuditEvent):
            raise AuditTampering(f"audit event {row.id} cannot be deleted: the audit trail is append-only")
    for row in session.dirty:
        if isinstance(row, AuditEvent) and session.is_modified(row):
            raise AuditTampering(f"audit event {row.id} cannot be changed: the audit trail is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    table = getattr(state.statement, "table", None)  # an ORM statement's is an annotated copy: compare names
    if (state.is_update or state.is_delete) and getattr(table, "name", None) == AuditEvent.__tablename__:
        raise AuditTampering("audit events cannot be updated or deleted: the audit trail is append-only")


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """Which events: by actor (exact), action (exact, or a prefix: "login" is login, login.failed …),
    object ("finding:41", or "41" / "finding" alone), and days in the center's calendar (both included)."""

    actor: str | None = None
    action: str | None = None
    object: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def query(self, timezone: str) -> Select[tuple[AuditEvent]]:
        query = select(AuditEvent)
        if self.actor:
            query = query.where(AuditEvent.actor == self.actor)
        if self.action:
            prefix = self.action.rstrip(".")
            query = query.where(or_(AuditEvent.action == prefix,
                                    AuditEvent.action.startswith(prefix + ".", autoescape=True)))
        if self.object:
            kind, sep, object_id = self.object.partition(":")
            if sep:
                query = query.where(AuditEvent.object_type == kind.strip(), AuditEvent.object_id == object_id.strip())
            else:
                query = query.where(or_(AuditEvent.object_id == self.object, AuditEvent.object_type == self.object))
        period = days_period(timezone, since=self.date_from, until=self.date_to)
        if period.start is not None:
            query = query.where(AuditEvent.at >= period.start)
        if period.end is not None:
            query = query.where(AuditEvent.at < period.end)
        return query


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: str

    @classmethod
    def of(cls, row: AuditEvent) -> AuditEntry:
        return cls(row.id, row.at, row.actor, row.action, row.object_type, row.object_id, row.detail)


@dataclass(frozen=True)
class AuditPage(PageCount):
    entries: tuple[AuditEntry, ...]
    total: int
    page: int
    page_size: int


def events(session: Session, filters: AuditFilters, *, timezone: str, page: int = 1,
           page_size: int = PAGE_SIZE) -> AuditPage:
    """One page of the events matching `filters`, newest first."""
    query = filters.query(timezone)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                           .offset((max(1, page) - 1) * page_size).limit(page_size))
    return AuditPage(tuple(AuditEntry.of(r) for r in rows), total, max(1, page), page_size)


CSV_COLUMNS = ("at", "actor", "action", "object_type", "object_id", "detail")


def csv_chunks(session: Session, filters: AuditFilters, *, timezone: str, rows_per_chunk: int = 500) -> Iterator[str]:
    """The matching events as CSV, newest first, a chunk of rows at a time (never all held): a
    UTF-8 BOM first so that Excel reads the Chinese, times in the center's time zone."""
    center = zone(timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    query = filters.query(timezone).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    for count, row in enumerate(session.scalars(query.execution_options(yield_per=rows_per_chunk)), 1):
        writer.writerow((row.at.astimezone(center).isoformat(timespec="seconds"), _cell(row.actor), row.action,
                         row.object_type, _cell(row.object_id), _cell(row.detail)))
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(text: str) -> str:
    """Typed text Excel will not run as a formula (a comment, or a name tried at the login form,
    typed as =HYPERLINK(…))."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
