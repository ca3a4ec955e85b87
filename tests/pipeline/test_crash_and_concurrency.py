"""kill -9 at random moments (SQLite), and two runs at once on one folder and database (each
backend): every call ends up processed exactly once, with no duplicate or half-written rows, and
no lock error shown."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qcpipe.scoring.engine import call_score
from qcpipe.store import Call, CallClaim, CallStatus, FindingRecord, Segment, SpeechRegion, open_database
from tests.helpers.audio import copy_calls

# This file loads the whole machine: it takes turns with the others that do (tests/helpers/scheduling.py).
pytestmark = pytest.mark.asr
CALLS = ["D110001", "D110002", "D110003", "D110004", "D110005", "D110006"]


def _start(day: Path, home: Path, db_url: str | None = None) -> subprocess.Popen[str]:
    """`qcpipe run` on `day` in its own process, into `db_url` (default: the one in `home`)."""
    env = {**os.environ, "QCPIPE_HOME": str(home), "COLUMNS": "200"}
    env.pop("QCPIPE_DB", None)
    if db_url is not None:
        env["QCPIPE_DB"] = db_url
    command = [sys.executable, "-m", "qcpipe", "run", str(day), "--manifest", str(day / "calls.csv"), "--workers", "1"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _check_whole(db_url: str, context: str) -> dict[str, int]:
    """Every stored call is whole: done calls have their transcript, timeline and score;
    nothing belongs to no call; nothing is there twice. Returns call id → segment count."""
    database = open_database(db_url)
    try:
        with database.session() as session:
            for table, key in ((Segment, Segment.call_pk), (SpeechRegion, SpeechRegion.call_pk),
                               (FindingRecord, FindingRecord.call_pk)):
                orphans = session.scalar(select(func.count()).select_from(table).where(~key.in_(select(Call.id))))
                assert orphans == 0, f"{context}: {table.__name__} rows without a call"
            counts = {}
            for call in session.scalars(select(Call)):
                assert call.status == CallStatus.DONE, f"{context}: {call.call_id} {call.error}"
                assert call.segments and call.speech and call.qa_score is not None, f"{context}: {call.call_id} half-written"
                assert call.qa_score == call_score(call.findings), context  # score and findings agree
                spans = [(s.channel, s.start_s, s.end_s) for s in call.segments]
                assert len(spans) == len(set(spans)), f"{context}: {call.call_id} has a segment twice"
                counts[call.call_id] = len(spans)
            return counts
    finally:
        database.dispose()


def test_kill_9_at_random_moments_then_the_same_command_finishes_the_job(tmp_path: Path) -> None:
    day, home = tmp_path / "day", tmp_path / "home"
    copy_calls(CALLS, day)
    seed = int(time.time())
    rng = random.Random(seed)
    killed_after = []
    for _ in range(4):
        run = _start(day, home)
        delay = rng.uniform(1.0, 9.0)  # loading the model, transcribing, or storing a call
        killed_after.append(round(delay, 2))
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.wait()
        if (home / "qcpipe.db").exists():
            _check_whole(f"sqlite:///{home / 'qcpipe.db'}", f"after kill -9 at {killed_after} s (seed {seed})")
    final = _start(day, home)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    counts = _check_whole(f"sqlite:///{home / 'qcpipe.db'}", f"killed at {killed_after} s (seed {seed})")
    assert sorted(counts) == CALLS
    database = open_database(f"sqlite:///{home / 'qcpipe.db'}")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(CallClaim)) == 0  # dead runs' claims taken over
    database.dispose()
    again = _start(day, home)
    out, _ = again.communicate(timeout=600)
    assert f"calls done 0 · skipped {len(CALLS)} · failed 0" in out  # nothing is done twice


def test_two_runs_at_once_share_the_work(tmp_path: Path, db_url: str) -> None:
    """On a new database: the two runs also migrate it at once."""
    day, home = tmp_path / "day", tmp_path / "home"
    copy_calls(CALLS, day)
    runs = [_start(day, home, db_url), _start(day, home, db_url)]
    results = [run.communicate(timeout=600) for run in runs]
    done = 0
    for run, (out, err) in zip(runs, results):
        assert run.returncode == 0, err
        assert "locked" not in out + err and "Traceback" not in err, err
        done += int(re.search(r"calls done (\d+)", out).group(1))
    assert done == len(CALLS)  # each call transcribed by one of them, once
    assert sorted(_check_whole(db_url, "two runs")) == CALLS
