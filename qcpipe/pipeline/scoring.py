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

from qcpipe.errors import QcpipeError
from qcpipe.scoring import EvalReport, Rulebook, evaluate, score_call
from qcpipe.scoring.records import call_input, save_score
from qcpipe.store import Database
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
) -> ScoreSummary:
    """Re-score every transcribed call (started on or after `since`) with `rulebook`."""
    started = time.perf_counter()
    calls = findings = last_pk = 0
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
    return ScoreSummary(calls=calls, findings=findings, wall_s=time.perf_counter() - started)


def evaluate_stored(database: Database, labels_dir: Path) -> EvalReport:
    """Compare the stored findings with labelled calls (`qcpipe eval`): per-check P/R/F1.

    Raises QcpipeError when nothing is scored yet, or no labelled call is in the database.
    """
    with database.session() as session:
        predicted = repo.violations_by_call(session)
    if not predicted:
        raise QcpipeError("no scored calls in the database: run `qcpipe run` (or `qcpipe score`) first")
    return evaluate(predicted, labels_dir)
