"""The nightly job's own record: one `BatchRun` row per `qcpipe run`, and the list of them.

The row is written in small transactions of its own, never inside a call's: created at the start
(running), its counts brought up to date at most every `PROGRESS_EVERY_S` as calls finish and on
the run's heartbeat, and closed at the end (finished, or stopped with the reason). `wall_s` is
written with each update, so `started_at + wall_s` is when the run was last heard of: a row still
`running` that has not been heard of for `SILENT_AFTER_S` belongs to a run that was killed (or a
machine that went down) — it is shown as such, not as running.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from qcpipe.paging import PageCount
from qcpipe.store import Database
from qcpipe.store.models import BatchRun, BatchRunStatus, utcnow

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0
SILENT_AFTER_S = 300.0  # well over the heartbeat (30 s): a live run is heard of far more often
PAGE_SIZE = 20


class Counts(Protocol):
    """What a run has done so far (`BatchSummary`)."""

    done: int
    skipped: int
    busy: int
    failed: int
    audio_s: float


class RunRecord:
    """The `BatchRun` row of one run. Failing to write it never stops the run: the calls matter,
    their bookkeeping less."""

    def __init__(self, database: Database, source: str, host: str | None = None) -> None:
        self._database = database
        self._started = time.perf_counter()
        self._last_update = self._started
        self._lock = threading.Lock()
        self.id: int | None = None
        try:
            with database.transaction() as session:
                row = BatchRun(source=source, host=(host or socket.gethostname())[:128], started_at=utcnow(),
                               status=BatchRunStatus.RUNNING)
                session.add(row)
                session.flush()
                self.id = row.id
        except Exception:
            log.warning("could not record this run in batch_runs", exc_info=True)

    def progress(self, counts: Counts, *, force: bool = False) -> None:
        """Write the counts, unless they were written less than PROGRESS_EVERY_S ago."""
        now = time.perf_counter()
        if not force and now - self._last_update < PROGRESS_EVERY_S:
            return
        self._last_update = now
        self._write(counts, None)

    def finish(self, counts: Counts, error: str | None = None) -> None:
        """Close the row: finished, or stopped with `error` (why the run ended before its work was done)."""
        status = BatchRunStatus.STOPPED if error else BatchRunStatus.FINISHED
        self._write(counts, dict(status=status, finished_at=utcnow(), error=error))

    def _write(self, counts: Counts, closing: dict[str, object] | None) -> None:
        if self.id is None:
            return
        values: dict[str, object] = dict(
            calls_done=counts.done, calls_skipped=counts.skipped + counts.busy, calls_failed=counts.failed,
            audio_s=round(counts.audio_s, 3), wall_s=round(time.perf_counter() - self._started, 3), **(closing or {}))
        try:
            with self._lock, self._database.transaction() as session:  # the heartbeat thread writes too
                session.execute(update(BatchRun).where(BatchRun.id == self.id).values(**values))
        except Exception:
            log.warning("could not update this run's row in batch_runs", exc_info=True)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    """A run as the jobs page shows it. state: running, silent (still marked running but not heard
    of for a long time: killed, or its machine went down), finished or stopped."""

    id: int
    source: str
    host: str
    started_at: datetime
    finished_at: datetime | None
    state: str
    calls_done: int
    calls_skipped: int
    calls_failed: int
    audio_s: float
    wall_s: float
    error: str | None

    @property
    def audio_hours(self) -> float:
        return self.audio_s / 3600

    @property
    def x_realtime(self) -> float | None:
        """Seconds of audio transcribed per second of wall time."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else None

    @classmethod
    def of(cls, row: BatchRun, now: datetime) -> RunView:
        state = str(row.status)
        if row.status == BatchRunStatus.RUNNING:
            last_heard = row.started_at + timedelta(seconds=row.wall_s or 0.0)
            if now - last_heard > timedelta(seconds=SILENT_AFTER_S):
                state = "silent"
        return cls(row.id, row.source, row.host, row.started_at, row.finished_at, state, row.calls_done,
                   row.calls_skipped, row.calls_failed, row.audio_s, row.wall_s, row.error)


@dataclass(frozen=True)
class RunsPage(PageCount):
    runs: tuple[RunView, ...]
    total: int
    page: int
    page_size: int


def recent_runs(session: Session, *, now: datetime, page: int = 1, page_size: int = PAGE_SIZE) -> RunsPage:
    """The runs, newest first, one page."""
    total = session.scalar(select(func.count(BatchRun.id))) or 0
    rows = session.scalars(select(BatchRun).order_by(BatchRun.started_at.desc(), BatchRun.id.desc())
                           .offset((max(1, page) - 1) * page_size).limit(page_size))
    return RunsPage(tuple(RunView.of(r, now) for r in rows), total, max(1, page), page_size)
