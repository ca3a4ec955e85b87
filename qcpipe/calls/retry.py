"""Failed calls and asking for them to be tried again.

A call whose content could not be processed stays failed until a run is given `--retry-failed`;
an admin can instead mark single calls (a file replaced upstream, a fault since fixed): the next
`qcpipe run` over a folder holding them tries them again and clears the mark (see
`qcpipe.pipeline.batch`). Marking is audited as "call.retry".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qcpipe.paging import PageCount
from qcpipe import audit
from qcpipe.errors import NotFoundError, QcpipeError, shown_path
from qcpipe.store.models import Call, CallStatus

PAGE_SIZE = 50


@dataclass(frozen=True)
class FailedCall:
    """A call that could not be processed, why, and whether it is marked to be tried again."""

    call_id: str
    file: str
    error: str
    failed_at: datetime
    retry_requested_at: datetime | None
    retry_requested_by: str | None


@dataclass(frozen=True)
class FailedCallsPage(PageCount):
    calls: tuple[FailedCall, ...]
    total: int
    page: int
    page_size: int


def failed_calls(session: Session, *, page: int = 1, page_size: int = PAGE_SIZE) -> FailedCallsPage:
    """The failed calls, most recently tried first, one page."""
    failed = select(Call).where(Call.status == CallStatus.FAILED)
    total = session.scalar(select(func.count()).select_from(failed.subquery())) or 0
    rows = session.scalars(failed.order_by(Call.processed_at.desc(), Call.call_id)
                           .offset((max(1, page) - 1) * page_size).limit(page_size))
    return FailedCallsPage(
        tuple(FailedCall(c.call_id, shown_path(c.recording_path), c.error or "", c.processed_at,
                         c.retry_requested_at, c.retry_requested_by) for c in rows),
        total, max(1, page), page_size,
    )


def mark_for_retry(session: Session, call_ids: Iterable[str], *, by: str, now: datetime) -> list[str]:
    """Mark failed calls to be tried again by the next run; the ids marked. An unknown id is not
    found; a call that is not failed is refused (nothing is marked then)."""
    wanted = list(dict.fromkeys(c.strip() for c in call_ids if c.strip()))
    if not wanted:
        raise QcpipeError("no call ids given to retry")
    calls = {c.call_id: c for c in session.scalars(select(Call).where(Call.call_id.in_(wanted)))}
    if missing := [c for c in wanted if c not in calls]:
        raise NotFoundError(f"no call {', '.join(missing)}")
    if not_failed := [c for c in wanted if calls[c].status != CallStatus.FAILED]:
        raise QcpipeError(f"only failed calls can be retried; not failed: {', '.join(not_failed)}")
    for call_id in wanted:
        call = calls[call_id]
        call.retry_requested_at, call.retry_requested_by = now, by[:64]
        audit.record(session, by, "call.retry", "call", call_id, call.error or "", at=now)
    return wanted
