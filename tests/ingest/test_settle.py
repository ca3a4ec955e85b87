"""Recordings copied in just before the run, or still being written: waited for once, in the run."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from qcpipe.asr import file_sha256
from qcpipe.ingest import SettledRecording, SettleWait, UnreadableRecording, discover, settled_recordings
from tests.helpers.audio import settled

SETTLE_S = 1.0


class Waits:
    """The waits a run asks for, really waited, and what it said before each."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.announced: list[SettleWait] = []

    def wait(self, seconds: float) -> None:
        self.seconds.append(seconds)
        time.sleep(seconds)

    def announce(self, waiting: SettleWait) -> None:
        self.announced.append(waiting)


def _recordings(folder: Path, waits: Waits, **options) -> list[SettledRecording | UnreadableRecording]:
    return list(settled_recordings(discover(folder), SETTLE_S, wait=waits.wait, on_wait=waits.announce, **options))


def _write(path: Path, size: int = 4000) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_settled_files_go_straight_through_in_order(tmp_path: Path) -> None:
    files = [_write(tmp_path / f"C{n}.wav") for n in range(3)]
    settled(*files)
    waits = Waits()
    recordings = _recordings(tmp_path, waits)
    assert [r.source.call_id for r in recordings] == ["C0", "C1", "C2"]
    assert all(isinstance(r, SettledRecording) for r in recordings)
    assert [r.content_hash for r in recordings] == [file_sha256(f) for f in files]
    assert waits.seconds == [] and waits.announced == []


def test_a_recent_file_is_taken_up_after_the_others_once_it_has_settled(tmp_path: Path) -> None:
    old = [_write(tmp_path / "A.wav"), _write(tmp_path / "C.wav")]
    settled(*old)
    recent = _write(tmp_path / "B.wav")  # copied in just now
    waits = Waits()
    recordings, ages = [], []
    for recording in settled_recordings(discover(tmp_path), SETTLE_S, wait=waits.wait, on_wait=waits.announce):
        recordings.append(recording)
        ages.append(time.time() - recording.source.audio_path.stat().st_mtime)
    assert [r.source.call_id for r in recordings] == ["A", "C", "B"]
    last = recordings[-1]
    assert isinstance(last, SettledRecording) and last.content_hash == file_sha256(recent)
    assert ages[-1] >= SETTLE_S  # it was taken up only once it had settled
    assert waits.announced == [SettleWait(seconds=1, files=1)]
    assert waits.announced[0].describe() == "waiting 1 s for 1 recently modified file to settle"
    assert 0 < sum(waits.seconds) <= SETTLE_S


def test_a_file_that_keeps_growing_is_left_for_the_next_run(tmp_path: Path) -> None:
    growing = _write(tmp_path / "LIVE.wav")
    _write(tmp_path / "QUIET.wav")  # recent too, but the copy of it is over
    stop = threading.Event()

    def record() -> None:  # the recorder appends to the call while it goes on
        with open(growing, "ab") as handle:
            while not stop.wait(0.05):
                handle.write(os.urandom(800))
                handle.flush()

    recorder = threading.Thread(target=record)
    recorder.start()
    try:
        recordings = {r.source.call_id: r for r in _recordings(tmp_path, Waits())}
    finally:
        stop.set()
        recorder.join()
    assert isinstance(recordings["QUIET"], SettledRecording)
    live = recordings["LIVE"]
    assert isinstance(live, UnreadableRecording)
    message = str(live.error)
    assert "LIVE.wav: still being written (size 4000 → " in message and "tried again on the next run" in message


def test_a_missing_file_is_reported_unreadable_at_once(tmp_path: Path) -> None:
    link = tmp_path / "GONE.wav"
    link.symlink_to(tmp_path / "nowhere.wav")
    (recording,) = _recordings(tmp_path, waits := Waits())
    assert isinstance(recording, UnreadableRecording)
    assert "GONE.wav: cannot read: No such file or directory" in str(recording.error)
    assert waits.seconds == []


def test_a_folder_copied_in_at_once_waits_one_settle_time_holding_a_few_files(tmp_path: Path) -> None:
    """2,000 files all modified just now: the run waits out their settle time once, not once per
    file, and never holds more than the set-aside queue of them."""
    for n in range(2000):
        (tmp_path / f"C{n:04d}.wav").write_bytes(b"RIFF")
    pulled = 0

    def streamed() -> Iterator:
        nonlocal pulled
        for source in discover(tmp_path):
            pulled += 1
            yield source

    newest = max(path.stat().st_mtime for path in tmp_path.iterdir())
    waits = Waits()
    most_held = 0
    count = 0
    started = time.time()
    for recording in settled_recordings(streamed(), SETTLE_S, wait=waits.wait, on_wait=waits.announce,
                                        most_set_aside=50):
        assert isinstance(recording, SettledRecording), recording
        count += 1
        most_held = max(most_held, pulled - count)
    assert count == 2000
    assert most_held <= 51
    # Waited only for what remained of the settle time of the newest file, however many there were.
    assert sum(waits.seconds) <= newest + SETTLE_S - started
    assert waits.announced and waits.announced[0].files == 50
