"""The nightly job's own record (`BatchRun`) and the admin's retry marks, through real runs of the
batch over real files. Recognition is not what these tests are about: a scripted transcriber
stands in for the model (it hears the same dialogue in every recording); files that cannot be
decoded fail before it is asked. On each backend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from qcpipe.asr.types import AsrOptions, Transcript
from qcpipe.calls.retry import failed_calls, mark_for_retry
from qcpipe.errors import NotFoundError, QcpipeError
from qcpipe.ingest import sources_for
from qcpipe.pipeline import Outcome, run_batch
from qcpipe.pipeline.runs import SILENT_AFTER_S, recent_runs
from qcpipe.store import Call, CallStatus
from qcpipe.store.models import AuditEvent, BatchRun, BatchRunStatus, utcnow
from tests.helpers.audio import copy_calls
from tests.helpers.calls import make_call
from tests.helpers.cli import qcpipe_in_process

FINGERPRINT = AsrOptions().fingerprint()
TURNS = [["agent", 0, 4, "您好，欢迎致电畅联通信，请问有什么可以帮您？"], ["customer", 4.5, 7, "我家宽带断了"],
         ["agent", 13.5, 17, "感谢您的来电，再见"]]


class ScriptedTranscriber:
    """Hears `TURNS` in any recording it is given (17 s of speech); runs out of memory on the
    recordings named in `out_of_memory`."""

    def __init__(self, out_of_memory: set[str] = frozenset()) -> None:
        self.heard: list[str] = []
        self.out_of_memory = out_of_memory

    def transcribe(self, audio, channel_map) -> Transcript:  # noqa: ARG002
        name = Path(audio.path).stem
        if name in self.out_of_memory:
            raise RuntimeError("CUDA out of memory")
        self.heard.append(name)
        scripted = make_call(TURNS, call_id="scripted", timed_words=True)
        return Transcript(segments=scripted.segments, speech=scripted.speech, duration=17.0, channels=2,
                          roles_known=True, options=AsrOptions())


@pytest.fixture
def day(tmp_path: Path) -> tuple[Path, Path]:
    """A good dev call, an empty file and an HTML page saved as .wav."""
    manifest = copy_calls(["D110001"], tmp_path)
    (tmp_path / "audio" / "EMPTY1.wav").write_bytes(b"")
    (tmp_path / "audio" / "HTML1.wav").write_text("<html>502 Bad Gateway</html>")
    with open(manifest, "a", encoding="utf-8") as handle:
        handle.write("EMPTY1,audio/EMPTY1.wav,A01,张伟,一组,2026-10-01T09:00:00+08:00,5\n")
        handle.write("HTML1,audio/HTML1.wav,A01,张伟,一组,2026-10-01T09:05:00+08:00,5\n")
    return tmp_path, manifest


def _run(db, folder: Path, manifest: Path, model: ScriptedTranscriber, **kwargs):
    return run_batch(sources_for(folder, manifest), db, lambda: model, asr_fingerprint=FINGERPRINT,
                     record_as=str(folder), **kwargs)


def _runs(db) -> list[BatchRun]:
    with db.session() as session:
        return list(session.scalars(select(BatchRun).order_by(BatchRun.id)))


def test_a_run_records_its_row_with_counts_and_speed(db, day) -> None:
    folder, manifest = day
    summary = _run(db, folder, manifest, ScriptedTranscriber())
    assert (summary.done, summary.failed) == (1, 2)
    [run] = _runs(db)
    assert run.status == BatchRunStatus.FINISHED and run.error is None
    assert run.source == str(folder) and run.host
    assert (run.calls_done, run.calls_skipped, run.calls_failed) == (1, 0, 2)
    assert run.audio_s == pytest.approx(17.0) and run.wall_s > 0
    assert run.finished_at is not None and run.finished_at >= run.started_at

    again = _run(db, folder, manifest, ScriptedTranscriber())
    assert again.skipped == 3
    with db.session() as session:
        listing = recent_runs(session, now=utcnow())
    assert listing.total == 2
    newest, oldest = listing.runs
    assert (newest.calls_done, newest.calls_skipped, newest.state) == (0, 3, "finished")
    assert oldest.x_realtime == pytest.approx(17.0 / oldest.wall_s)


def test_a_run_that_stops_says_why(db, day) -> None:
    folder, manifest = day

    def stop(outcome) -> None:
        if outcome.outcome is Outcome.FAILED:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(db, folder, manifest, ScriptedTranscriber(), on_outcome=stop)
    [run] = _runs(db)
    assert run.status == BatchRunStatus.STOPPED and "interrupted" in run.error
    assert run.finished_at is not None and run.calls_failed == 1


def test_a_run_never_heard_of_again_is_not_shown_as_running(db) -> None:
    now = utcnow()
    with db.transaction() as session:
        session.add_all([
            BatchRun(source="/rec/killed", host="h", started_at=now - timedelta(hours=5), wall_s=60.0),
            BatchRun(source="/rec/live", host="h", started_at=now - timedelta(hours=1), wall_s=3590.0),
        ])
    with db.session() as session:
        states = {r.source: r.state for r in recent_runs(session, now=now).runs}
    assert states == {"/rec/killed": "silent", "/rec/live": "running"}
    assert SILENT_AFTER_S < 3600


def test_a_marked_call_is_retried_by_the_next_run_without_retry_failed(db, day) -> None:
    folder, manifest = day
    _run(db, folder, manifest, ScriptedTranscriber(out_of_memory={"D110001"}))  # a fault of the machine, not the file
    model = ScriptedTranscriber()
    assert _run(db, folder, manifest, model).skipped == 3 and model.heard == []  # failed stays failed
    with db.transaction() as session:
        mark_for_retry(session, ["D110001"], by="admin", now=utcnow())
    summary = _run(db, folder, manifest, model)
    assert (summary.done, summary.skipped, model.heard) == (1, 2, ["D110001"])
    with db.session() as session:
        call = session.scalars(select(Call).where(Call.call_id == "D110001")).one()
        assert call.status == CallStatus.DONE and call.error is None and call.retry_requested_at is None


def test_marks_are_set_audited_honoured_and_cleared(db, day) -> None:
    folder, manifest = day
    _run(db, folder, manifest, ScriptedTranscriber())
    with db.transaction() as session:
        marked = mark_for_retry(session, ["HTML1"], by="admin", now=utcnow())
    assert marked == ["HTML1"]
    with db.session() as session:
        page = failed_calls(session)
        assert {c.call_id for c in page.calls} == {"EMPTY1", "HTML1"}
        html = next(c for c in page.calls if c.call_id == "HTML1")
        assert html.retry_requested_by == "admin" and html.file.endswith("HTML1.wav") and "not a readable" in html.error
        assert session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "call.retry")).all() == ["HTML1"]

    model = ScriptedTranscriber()
    outcomes = []
    summary = _run(db, folder, manifest, model, on_outcome=outcomes.append)
    # The same bad file: tried again (it fails again, the same way), the unmarked one is left alone.
    assert {(o.call_id, o.outcome) for o in outcomes} == {
        ("D110001", Outcome.SKIPPED), ("EMPTY1", Outcome.SKIPPED), ("HTML1", Outcome.FAILED)}
    assert summary.failed == 1
    with db.session() as session:
        html = session.scalars(select(Call).where(Call.call_id == "HTML1")).one()
        assert html.status == CallStatus.FAILED and html.retry_requested_at is None and html.retry_requested_by is None
    # Without the mark, the next run leaves it alone again.
    assert _run(db, folder, manifest, ScriptedTranscriber()).skipped == 3


def test_only_failed_calls_can_be_marked(db, day) -> None:
    folder, manifest = day
    _run(db, folder, manifest, ScriptedTranscriber())
    with pytest.raises(QcpipeError, match="not failed: D110001"), db.transaction() as session:
        mark_for_retry(session, ["HTML1", "D110001"], by="admin", now=utcnow())
    with pytest.raises(NotFoundError), db.transaction() as session:
        mark_for_retry(session, ["NOPE"], by="admin", now=utcnow())
    with db.session() as session:
        assert all(c.retry_requested_at is None for c in session.scalars(select(Call)))


def test_qcpipe_retry_marks_from_the_shell(db, day, tmp_path) -> None:
    folder, manifest = day
    _run(db, folder, manifest, ScriptedTranscriber())
    done = qcpipe_in_process("retry", "HTML1", "EMPTY1", "--db", db.url, home=tmp_path / "home")
    assert "marked 2 call(s)" in done.stdout
    refused = qcpipe_in_process("retry", "D110001", "--db", db.url, home=tmp_path / "home", check=False)
    assert refused.returncode == 1 and "not failed: D110001" in refused.stderr
    with db.session() as session:
        marks = {c.call_id: c.retry_requested_by for c in session.scalars(select(Call))}
    assert marks["HTML1"].startswith("shell:") and marks["EMPTY1"].startswith("shell:") and marks["D110001"] is None
