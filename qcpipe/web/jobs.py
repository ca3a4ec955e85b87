"""Work a page starts and then watches: a what-if preview, the re-scoring after a publish.

    job = jobs.start("preview", owner="lead", work=lambda progress: preview(..., progress=progress))
    jobs.get(job.id, owner="lead") → Job (state, done/total, result or error)

The work runs on a thread of the server; `progress(done, total)` is what the page's progress bar
polls. Jobs live in the server's memory and are forgotten an hour after they end: what they
produce that must last (a published version, re-scored calls) is written to the database by the
work itself, in its own transactions, so a restart loses only the progress bar. Another person's
job answers as not found.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from qcpipe.errors import NotFoundError, QcpipeError

log = logging.getLogger(__name__)
KEEP_S = 3600.0
Progress = Callable[[int, int], None]


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Job:
    id: str
    kind: str
    owner: str
    started: float = field(default_factory=time.time)
    ended: float | None = None
    state: JobState = JobState.RUNNING
    done: int = 0
    total: int = 0
    result: Any = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": str(self.state), "done": self.done, "total": self.total,
                "error": self.error, "elapsed_s": round((self.ended or time.time()) - self.started, 1)}


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def start(kind: str, owner: str, work: Callable[[Progress], Any]) -> Job:
    """Run `work(progress)` on a thread of its own; its return value becomes `job.result`."""
    job = Job(id=secrets.token_urlsafe(12), kind=kind, owner=owner)
    with _lock:
        _forget_old()
        _jobs[job.id] = job

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    def run() -> None:
        try:
            job.result = work(progress)
            job.state = JobState.DONE
        except QcpipeError as exc:  # a known refusal: its message is for the person
            job.error, job.state = str(exc), JobState.FAILED
        except Exception as exc:  # noqa: BLE001 - a background job reports, it does not crash the server
            log.exception("%s job %s failed", kind, job.id)
            job.error, job.state = f"{type(exc).__name__}: {exc}", JobState.FAILED
        finally:
            job.ended = time.time()

    threading.Thread(target=run, name=f"qcpipe-{kind}-{job.id}", daemon=True).start()
    return job


def get(job_id: str, owner: str) -> Job:
    """The job, if `owner` started it (anyone else's answers as not found)."""
    job = _jobs.get(job_id)
    if job is None or job.owner != owner:
        raise NotFoundError(f"no such job: {job_id}")
    return job


def running(kind: str) -> list[Job]:
    return [job for job in list(_jobs.values()) if job.kind == kind and job.state is JobState.RUNNING]


def _forget_old() -> None:
    now = time.time()
    for job_id, job in list(_jobs.items()):
        if job.ended is not None and now - job.ended > KEEP_S:
            del _jobs[job_id]
