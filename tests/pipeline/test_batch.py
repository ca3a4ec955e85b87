"""The batch: bad calls recorded and skipped over, re-runs do no work twice, changed files redone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from qcpipe.asr import file_sha256
from qcpipe.asr.types import AsrOptions
from qcpipe.ingest import sources_for
from qcpipe.pipeline import Outcome, records, run_batch
from qcpipe.store import Call, CallClaim, CallStatus, Segment, SpeechRegion
from qcpipe.store import repository as repo
from tests.helpers.audio import copy_calls

pytestmark = pytest.mark.asr
FINGERPRINT = AsrOptions().fingerprint()


class _HeardOnce:
    """The real model, each recording (by content) heard once in this module: the same test on
    the other backend, and later tests, get the transcript it gave (these tests are of the batch
    and the store, not of recognition)."""

    def __init__(self, model) -> None:
        self.model, self.options, self.heard = model, model.options, {}

    def transcribe(self, audio, channel_map):
        key = (file_sha256(audio.path), channel_map)
        if key not in self.heard:
            self.heard[key] = self.model.transcribe(audio, channel_map)
        return self.heard[key]


@pytest.fixture(scope="module")
def transcriber(batch_transcriber) -> _HeardOnce:
    return _HeardOnce(batch_transcriber)


def _no_model():
    raise AssertionError("the model must not be loaded when there is nothing to transcribe")


@pytest.fixture
def day(tmp_path: Path) -> tuple[Path, Path]:
    """A day's folder: two good calls from the dev corpus, an empty file and an HTML page named .wav."""
    manifest = copy_calls(["D110001", "D110016"], tmp_path)
    (tmp_path / "audio" / "EMPTY1.wav").write_bytes(b"")
    (tmp_path / "audio" / "HTML1.wav").write_text("<html>502 Bad Gateway</html>")
    with open(manifest, "a", encoding="utf-8") as handle:
        handle.write("EMPTY1,audio/EMPTY1.wav,A01,张伟,一组,2026-10-01T09:00:00+08:00,5\n")
        handle.write("HTML1,audio/HTML1.wav,A01,张伟,一组,2026-10-01T09:05:00+08:00,5\n")
    return tmp_path, manifest


def _run(db, transcriber, folder, manifest, factory=None, **kwargs):
    return run_batch(
        sources_for(folder, manifest),
        db,
        factory or (lambda: transcriber),
        asr_fingerprint=FINGERPRINT,
        **{"workers": 2, **kwargs},
    )


def test_bad_calls_fail_with_reasons_and_the_rest_complete(db, transcriber, day) -> None:
    folder, manifest = day
    summary = _run(db, transcriber, folder, manifest)
    assert (summary.done, summary.failed, summary.skipped) == (2, 2, 0)
    assert summary.audio_s == pytest.approx(27.69 + 23.36, abs=0.5)
    with db.session() as session:
        failed = {c.call_id: c.error for c in repo.list_calls(session, CallStatus.FAILED)}
        assert set(failed) == {"EMPTY1", "HTML1"}
        assert "EMPTY1.wav: empty file" in failed["EMPTY1"]
        assert "HTML1.wav: not a readable audio file" in failed["HTML1"]
        assert all("\n" not in reason for reason in failed.values())
        call = repo.load_call(session, "D110001")
        assert call.status == CallStatus.DONE and call.agent.code == "A05" and call.agent.team.name == "二组"
        assert call.channels == 2 and call.roles_known and call.duration_s == pytest.approx(27.69, abs=0.05)
        assert {s.role for s in call.segments} == {"agent", "customer"}
        assert session.scalar(select(func.count(SpeechRegion.id)).where(SpeechRegion.call_pk == call.id)) > 4


def test_rerun_does_no_work_twice(db, transcriber, day) -> None:
    folder, manifest = day
    _run(db, transcriber, folder, manifest)
    with db.session() as session:
        before = session.scalar(select(func.count(Segment.id)))
    again = _run(db, transcriber, folder, manifest, factory=_no_model)
    assert (again.done, again.failed, again.skipped) == (0, 0, 4)
    with db.session() as session:
        assert session.scalar(select(func.count(Segment.id))) == before
        assert session.scalar(select(func.count(Call.id))) == 4


def test_changed_file_is_redone_and_replaces_the_old_transcript(db, transcriber, day, dev_corpus) -> None:
    folder, manifest = day
    _run(db, transcriber, folder, manifest)
    with db.session() as session:
        old_text = "".join(s.text for s in repo.load_call(session, "D110001").segments)
    shutil.copy(dev_corpus / "audio" / "D110015.wav", folder / "audio" / "D110001.wav")  # re-exported recording
    outcomes = []
    summary = _run(db, transcriber, folder, manifest, on_outcome=outcomes.append)
    assert (summary.done, summary.skipped) == (1, 3)
    assert [o.call_id for o in outcomes if o.outcome is Outcome.DONE] == ["D110001"]
    with db.session() as session:
        call = repo.load_call(session, "D110001")
        assert "".join(s.text for s in call.segments) != old_text
        assert session.scalar(select(func.count(Call.id))) == 4  # replaced, not duplicated


def test_retry_failed_tries_failed_calls_again(db, transcriber, day) -> None:
    folder, manifest = day
    _run(db, transcriber, folder, manifest)
    (folder / "audio" / "HTML1.wav").write_bytes((folder / "audio" / "D110001.wav").read_bytes())  # fixed upstream
    retried = _run(db, transcriber, folder, manifest, retry_failed=True)
    assert (retried.done, retried.failed, retried.skipped) == (1, 1, 2)


def test_an_error_while_storing_a_call_rolls_it_back_and_the_batch_goes_on(db, transcriber, day, monkeypatch) -> None:
    folder, manifest = day
    real_save = records.save_transcript

    def save_then_fail(session, source, *args):
        call = real_save(session, source, *args)
        if source.call_id == "D110016":
            session.flush()  # segments are in the transaction …
            raise ValueError("bad value in a segment")  # … when storing fails
        return call

    monkeypatch.setattr(records, "save_transcript", save_then_fail)
    summary = _run(db, transcriber, folder, manifest)
    assert (summary.done, summary.failed) == (1, 3)
    with db.session() as session:
        call = repo.find_call(session, "D110016")
        assert call.status == CallStatus.FAILED and "cannot store or score: ValueError" in call.error
        assert call.segments == [] and call.content_hash is not None  # waits for --retry-failed
        orphans = session.scalar(select(func.count(Segment.id)).where(~Segment.call_pk.in_(select(Call.id))))
        assert orphans == 0
        assert session.scalar(select(func.count(CallClaim.call_id))) == 0


def test_a_database_that_cannot_be_written_stops_the_batch_keeping_what_was_stored(
    sqlite_db, transcriber, day, dev_corpus
) -> None:
    """SQLite's page limit is a real "database or disk is full": the run stops with a plain
    message, the call it was replacing keeps its old transcript whole, and the same command
    resumes once there is room."""
    from sqlalchemy import event

    from qcpipe.errors import StoreError

    db = sqlite_db
    folder, manifest = day
    _run(db, transcriber, folder, manifest)
    with db.session() as session:
        old = [s.text for s in repo.load_call(session, "D110001").segments]
        pages = session.execute(text("PRAGMA page_count")).scalar()
    limit = {"pages": pages}

    @event.listens_for(db.engine, "connect")
    def cap(dbapi_connection, _record):
        if limit["pages"]:
            dbapi_connection.execute(f"PRAGMA max_page_count={limit['pages']}")

    db.engine.dispose()
    shutil.copy(dev_corpus / "audio" / "D110015.wav", folder / "audio" / "D110001.wav")  # re-exported recording
    with pytest.raises(StoreError, match="database or its disk is full; nothing was half-written"):
        _run(db, transcriber, folder, manifest, workers=1)
    limit["pages"] = None
    db.engine.dispose()
    with db.session() as session:
        assert [s.text for s in repo.load_call(session, "D110001").segments] == old
    summary = _run(db, transcriber, folder, manifest)
    assert (summary.done, summary.skipped) == (1, 3)


class _AnotherRunStoresItMeanwhile:
    """Transcribes in this thread; before handing a call back, another run (one that took the
    claim over) stores the same call with the same audio and settings."""

    slots = 1

    def __init__(self, db, transcriber) -> None:
        self.db, self.transcriber, self.segment_ids = db, transcriber, {}

    def submit(self, source):
        from concurrent.futures import Future

        from qcpipe.config import ChannelMap
        from qcpipe.pipeline.batch import transcribe_call

        result = transcribe_call(self.transcriber, source, ChannelMap())
        with self.db.transaction() as session:
            call = records.save_transcript(session, source, file_sha256(source.audio_path), result.transcript,
                                           result.timings)
            session.flush()
            self.segment_ids[source.call_id] = [segment.id for segment in call.segments]
        future: Future = Future()
        future.set_result(result)
        return future

    def close(self, cancel: bool) -> None:
        pass


def test_a_call_another_run_stored_meanwhile_is_kept_once_as_first_stored(db, transcriber, day) -> None:
    folder, manifest = day
    only_good = folder / "good.csv"
    only_good.write_text("".join(manifest.read_text(encoding="utf-8").splitlines(keepends=True)[:3]), encoding="utf-8")
    meanwhile = _AnotherRunStoresItMeanwhile(db, transcriber)
    summary = _run(db, transcriber, folder, only_good, executor=meanwhile)
    assert (summary.done, summary.busy, summary.failed) == (0, 2, 0)  # both were the other run's
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 2
        assert session.scalar(select(func.count()).select_from(CallClaim)) == 0
        for call_id in ("D110001", "D110016"):  # the rows the other run wrote, not written again
            stored = repo.load_call(session, call_id)
            assert stored.status == CallStatus.DONE
            assert [segment.id for segment in stored.segments] == meanwhile.segment_ids[call_id] != []
