"""The audit trail: who did what, when. Events are only ever added (by the services, in the
transaction of what they record), never changed or deleted by the application."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from qcpipe.store.models import AuditEvent, utcnow


def record(
    session: Session, actor: str, action: str, object_type: str, object_id: object, detail: str = "",
    at: datetime | None = None,
) -> None:
    """Add one event, e.g. record(s, "李质检", "finding.overturn", "finding", 41, "客户在说话")."""
    session.add(AuditEvent(at=at or utcnow(), actor=actor[:64], action=action, object_type=object_type,
                           object_id=str(object_id)[:128], detail=detail))
