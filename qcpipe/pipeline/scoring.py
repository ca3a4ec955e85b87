"""Score stored transcripts against a rulebook and store the findings (`qcpipe score`), and
compare the stored findings with labels (`qcpipe eval`).

No ASR here: changing a rule and re-scoring a month of calls takes seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from qcpipe.errors import QcpipeError
from qcpipe.scoring import EvalReport, Rulebook, evaluate, score_call
from qcpipe.scoring.records import call_input, save_score
from qcpipe.store import Call, CallStatus, Database
from qcpipe.store import repository as repo

# Calls written per transaction: each call's findings and score are replaced together, and
# a batch commits as a whole, so no call is ever left half re-scored.
_BATCH = 200


@dataclass(frozen=True)
class ScoreSummary:
    calls: int
    findings: int
    wall_s: float

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s if self.wall_s > 0 else 0.0


def score_stored_calls(
    database: Database,
    rulebook: Rulebook,
    *,
    since: datetime | None = None,
    on_call: Callable[[str, float], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScoreSummary:
    """Re-score every transcribed call (started on or after `since`) with `rulebook`.

    progress(done, total) is told after each batch is committed (and once before the first):
    what a page re-scoring in the background shows.
    """
    started = time.perf_counter()
    calls = findings = last_pk = 0
    total = _count_for_scoring(database, since) if progress is not None else 0
    if progress is not None:
        progress(0, total)
    while True:
        with database.transaction() as session:
            page = repo.calls_for_scoring(session, since, after_pk=last_pk, limit=_BATCH)
            for call in page:
                result = score_call(call_input(call), rulebook)
                save_score(session, call, result)
                findings += len(result.findings)
                if on_call is not None:
                    on_call(call.call_id, result.score)
        if not page:
            break
        calls += len(page)
        last_pk = page[-1].id
        if progress is not None:
            progress(calls, max(total, calls))  # calls transcribed meanwhile are scored too
    return ScoreSummary(calls=calls, findings=findings, wall_s=time.perf_counter() - started)


def _count_for_scoring(database: Database, since: datetime | None) -> int:
    """How many calls `score_stored_calls` will score (those of `repo.calls_for_scoring`)."""
    query = select(func.count()).select_from(Call).where(Call.status == CallStatus.DONE)
    if since is not None:
        query = query.where(Call.started_at >= since)
    with database.session() as session:
        return session.scalar(query) or 0


def evaluate_stored(database: Database, labels_dir: Path) -> EvalReport:
    """Compare the stored findings with labelled calls (`qcpipe eval`): per-check P/R/F1.

    Raises QcpipeError when nothing is scored yet, or no labelled call is in the database.
    """
    with database.session() as session:
        predicted = repo.violations_by_call(session)
    if not predicted:
        raise QcpipeError("no scored calls in the database: run `qcpipe run` (or `qcpipe score`) first")
    return evaluate(predicted, labels_dir)
