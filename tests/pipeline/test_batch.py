"""The batch: bad calls recorded and skipped over, re-runs do no work twice, changed files redone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qcpipe.asr.types import AsrOptions
from qcpipe.ingest import sources_for
from qcpipe.pipeline import Outcome, run_batch
from qcpipe.store import Call, CallStatus, Segment, SpeechRegion
from qcpipe.store import repository as repo
from tests.conftest import copy_calls

pytestmark = pytest.mark.asr
FINGERPRINT = AsrOptions().fingerprint()


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
        workers=2,
        **kwargs,
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


def test_a_crash_while_storing_leaves_no_half_call(db, transcriber, day, monkeypatch) -> None:
    folder, manifest = day
    real_save = repo.save_transcript

    def save_then_crash(session, source, *args):
        call = real_save(session, source, *args)
        if source.call_id == "D110016":
            session.flush()  # segments are in the transaction …
            raise OSError("disk I/O error")  # … when the process dies
        return call

    monkeypatch.setattr(repo, "save_transcript", save_then_crash)
    with pytest.raises(OSError):
        _run(db, transcriber, folder, manifest)
    with db.session() as session:
        assert repo.find_call(session, "D110016") is None
        orphans = session.scalar(select(func.count(Segment.id)).where(~Segment.call_pk.in_(select(Call.id))))
        assert orphans == 0
