"""The torture set through `qcpipe run`, as the nightly job meets it: every broken input is
recorded as failed with its reason, the rest of the batch completes, and nothing stops it but
a malformed manifest or rulebook, which stop it before any work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from qcpipe.store import Call, CallStatus, open_database
from tests.helpers.audio import copy_calls, write_audio
from tests.helpers.cli import qcpipe
from tests.helpers.paths import REPO
from tests.torture import make_torture_set

pytestmark = pytest.mark.asr


def run_without_override(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`qcpipe …` in its own process. As root, without the power to read any file whatever its
    permissions (CAP_DAC_OVERRIDE): otherwise the no-permission case cannot happen."""
    env = {**os.environ, "QCPIPE_HOME": str(home), "COLUMNS": "200"}
    env.pop("QCPIPE_DB", None)
    command = [sys.executable, "-m", "qcpipe", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv (util-linux): no file is unreadable")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=900)


@pytest.fixture(scope="module")
def torture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("night")
    cases = make_torture_set(folder)
    home = tmp_path_factory.mktemp("home")
    first = run_without_override("run", str(folder), "--workers", "2", home=home)
    again = run_without_override("run", str(folder), "--workers", "2", home=home)
    database = open_database(f"sqlite:///{home / 'qcpipe.db'}")
    yield cases, first, again, database
    database.dispose()


def test_the_batch_completes_and_says_how_many_failed(torture) -> None:
    cases, first, _again, _db = torture
    assert first.returncode == 3, first.stderr  # finished, with failures
    done = sum(c.outcome == "done" for c in cases)
    failed = sum(c.outcome == "failed" for c in cases)
    assert f"calls done {done} · skipped 0 · failed {failed}" in first.stdout, first.stdout
    assert "symlink loop" in first.stderr  # the folder loop is noted, not walked forever


def test_each_case_ends_as_it_should_with_a_reason_naming_the_file(torture) -> None:
    cases, _first, _again, database = torture
    with database.session() as session:
        calls = {c.call_id: c for c in session.scalars(select(Call))}
        assert set(calls) == {c.call_id for c in cases}
        for case in cases:
            call = calls[case.call_id]
            assert call.status == case.outcome, (case, call.error)
            if case.outcome == "failed":
                assert case.reason in call.error and "\n" not in call.error, (case, call.error)
                assert case.call_id.split("\\")[0] in call.error, (case, call.error)  # names the file
            elif case.heard:
                assert case.heard in "".join(s.text for s in call.segments), case


def test_quiet_short_and_long_recordings(torture) -> None:
    _cases, _first, _again, database = torture
    with database.session() as session:
        calls = {c.call_id: c for c in session.scalars(select(Call))}
        assert calls["silence_only"].segments == [] and calls["silence_only"].qa_score is not None
        assert ["greeting", "no speech recognised in this call"] in calls["silence_only"].not_applicable
        assert calls["short_0_2s"].duration_s == pytest.approx(0.2, abs=0.01)
        long_call = calls["long_3min"]
        assert long_call.duration_s == pytest.approx(180, abs=0.1)
        assert max(s.end_s for s in long_call.segments) > 170  # heard to the end, across blocks
        assert sum("您好" in s.text for s in long_call.segments) >= 3  # the openings of the calls it joins
        assert calls["测试"].recording_path.name.encode(errors="surrogateescape") == "测试".encode("gbk") + b".wav"
        assert calls["测试"].recording_path.is_file()  # the stored path opens the file again


def test_a_rerun_skips_what_is_settled_and_retries_what_could_not_be_read(torture) -> None:
    cases, _first, again, database = torture
    unreadable = {"no_permission", "loop_a", "loop_b", "dangling"}  # may be fixed on the share
    done = sum(c.outcome == "done" for c in cases)
    failed = sum(c.outcome == "failed" for c in cases)
    assert f"calls done 0 · skipped {done + failed - len(unreadable)} · failed {len(unreadable)}" in again.stdout
    with database.session() as session:
        assert {c.call_id for c in session.scalars(select(Call).where(Call.content_hash.is_(None)))} == unreadable


def _manifest_day(root: Path, rows: str, encoding: str = "utf-8") -> Path:
    manifest = copy_calls(["D110001", "D110016"], root)
    text = manifest.read_text(encoding="utf-8")
    manifest.write_bytes((text + rows).encode(encoding))
    return manifest


def test_manifest_oddities(tmp_path: Path) -> None:
    """GBK, an extra column, a row whose file is missing, a row repeated exactly, a row
    without its optional fields: the missing file fails, the rest is done."""
    manifest = copy_calls(["D110001", "D110016"], tmp_path)
    header, *rows = manifest.read_text(encoding="utf-8").splitlines()
    lines = [header + ",skill_group"] + [row + ",账单" for row in rows] + [
        rows[0] + ",账单",  # exported twice
        "GONE1,audio/GONE1.wav,A02,李静,一组,2026-10-03T10:00:00+08:00,12,退货",
        f"BARE1,{rows[1].split(',')[1]},,,,,,",  # the second call's recording again, no metadata
    ]
    manifest.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    home = tmp_path / "home"
    result = qcpipe("run", str(tmp_path), "--manifest", str(manifest), home=home, check=False)
    assert result.returncode == 3, result.stderr
    assert "calls done 3 · skipped 0 · failed 1" in result.stdout
    assert "line 4: call D110001 repeats line 2 exactly; processed once" in result.stderr
    database = open_database(f"sqlite:///{home / 'qcpipe.db'}")
    with database.session() as session:
        calls = {c.call_id: c for c in session.scalars(select(Call))}
        assert calls["GONE1"].status == CallStatus.FAILED and "GONE1.wav: cannot read: No such file" in calls["GONE1"].error
        assert calls["D110001"].extra == {"skill_group": "账单"} and calls["D110001"].agent.name == "陈晨"
        assert calls["BARE1"].status == CallStatus.DONE and calls["BARE1"].agent_id is None
    database.dispose()


@pytest.mark.parametrize(
    "rows,message",
    [
        ("D110001,audio/D110016.wav,A05,x,二组,,\n", "line 4: duplicate call_id D110001 (first on line 2)"),
        ("C9,audio/C9.wav,A1,陈,晨,一组,,\n", "line 4: 8 fields, the header has 7"),
        ("C9,audio/C9.wav,A1,x,y,2026-13-45,\n", "line 4: started_at '2026-13-45' is not an ISO 8601 time"),
    ],
)
def test_a_malformed_manifest_stops_before_any_work(tmp_path: Path, rows: str, message: str) -> None:
    manifest = _manifest_day(tmp_path, rows)
    result = qcpipe("run", str(tmp_path), "--manifest", str(manifest), home=tmp_path, check=False)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "qcpipe.db").exists()  # nothing was done


def test_a_malformed_rulebook_stops_before_any_work(tmp_path: Path) -> None:
    manifest = _manifest_day(tmp_path, "")
    rules = tmp_path / "rules.yaml"
    text = (REPO / "configs" / "rules" / "default.yaml").read_text(encoding="utf-8")
    rules.write_text(text.replace("kind: forbidden_phrases", "kind: forbidden_phrase"), encoding="utf-8")
    result = qcpipe("run", str(tmp_path), "--manifest", str(manifest), "--rules", str(rules), home=tmp_path,
                    check=False)
    assert result.returncode == 1 and "rules.yaml, line" in result.stderr and "forbidden_phrase" in result.stderr
    assert not (tmp_path / "qcpipe.db").exists()


def test_a_file_copied_in_just_now_is_processed_in_the_same_run(db, transcriber, opening_stereo, tmp_path: Path) -> None:
    from qcpipe.ingest import SettleWait, sources_for
    from qcpipe.pipeline import run_batch

    samples, rate = opening_stereo
    recording = write_audio(tmp_path / "COPIED.wav", samples[: 3 * rate], rate)  # modified just now
    waits: list[SettleWait] = []
    summary = run_batch(sources_for(recording), db, lambda: transcriber, asr_fingerprint=transcriber.options.fingerprint(),
                        settle_s=1, on_settle_wait=waits.append)
    assert (summary.done, summary.failed) == (1, 0), summary.failures
    assert waits == [SettleWait(seconds=1, files=1)]


def test_a_file_still_being_written_is_left_for_the_next_run(db, transcriber, opening_stereo, tmp_path: Path) -> None:
    import threading

    from qcpipe.ingest import sources_for
    from qcpipe.pipeline import run_batch

    samples, rate = opening_stereo
    recording = write_audio(tmp_path / "LIVE.wav", samples[:rate], rate)
    call_ended = threading.Event()

    def record() -> None:  # the recorder rewrites the file as the call goes on, a tenth of a second at a time
        seconds = 1.0
        while not call_ended.wait(0.1):
            seconds = min(seconds + 0.1, 3.0)
            write_audio(recording, samples[: int(seconds * rate)], rate)

    def run():
        return run_batch(sources_for(recording), db, lambda: transcriber,
                         asr_fingerprint=transcriber.options.fingerprint(), settle_s=1)

    recorder = threading.Thread(target=record)
    recorder.start()
    try:
        first = run()
    finally:
        call_ended.set()
        recorder.join()
    assert first.failed == 1 and "LIVE.wav: still being written" in first.failures[0].error, first.failures
    second = run()  # no --retry-failed needed: the file was never read; it settles within this run
    assert (second.done, second.failed) == (1, 0), second.failures


def test_a_database_locked_for_a_while_is_waited_for(sqlite_db, transcriber, tmp_path: Path) -> None:
    """Another program holds the SQLite write lock for three seconds: the run waits its turn."""
    import sqlite3
    import threading
    import time

    from sqlalchemy.engine import make_url

    from qcpipe.ingest import sources_for
    from qcpipe.pipeline import run_batch

    db = sqlite_db
    manifest = copy_calls(["D110001"], tmp_path)
    locked = threading.Event()

    def hold_the_lock():
        other = sqlite3.connect(make_url(db.url).database, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(3)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    locked.wait()
    summary = run_batch(sources_for(tmp_path, manifest), db, lambda: transcriber,
                        asr_fingerprint=transcriber.options.fingerprint())
    holder.join()
    assert (summary.done, summary.failed) == (1, 0)
