"""The player's audio: HTTP Range on the stored file, telephone μ-law converted to FLAC (both
channels), and a plain answer, never a 500, for a recording that is gone, changed or unreadable."""

from __future__ import annotations

import io
import shutil

import pytest
import soundfile
from sqlalchemy import update

from qcpipe.asr.audio import file_sha256
from qcpipe.store.models import Call
from tests.helpers.audio import write_audio
from tests.helpers.web import RECORDING


def _point(center, call_id: str, path, content_hash: str | None) -> None:
    with center.transaction() as session:
        session.execute(update(Call).where(Call.call_id == call_id).values(audio_path=str(path), content_hash=content_hash))


@pytest.mark.parametrize("url", ["/calls/C01/audio", "/api/calls/C01/audio"])
def test_a_range_answers_206_with_those_bytes(url, browser) -> None:
    monitor = browser("monitor1")
    whole = RECORDING.read_bytes()
    part = monitor.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole)}"
    assert part.content == whole[:100]
    tail = monitor.get(url, headers={"Range": f"bytes={len(whole) - 10}-"})
    assert tail.status_code == 206 and tail.content == whole[-10:]
    full = monitor.get(url)
    assert full.status_code == 200 and full.content == whole
    assert full.headers["content-type"] == "audio/wav" and full.headers["accept-ranges"] == "bytes"


def test_a_mu_law_recording_is_served_as_flac_with_both_channels(center, browser, tmp_path) -> None:
    samples, rate = soundfile.read(str(RECORDING), dtype="float32", always_2d=True)
    recording = write_audio(tmp_path / "ulaw.wav", samples, rate, subtype="ULAW")
    assert soundfile.info(str(recording)).subtype == "ULAW"
    _point(center, "C01", recording, file_sha256(recording))
    monitor = browser("monitor1")
    response = monitor.get("/calls/C01/audio")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/flac"
    decoded, decoded_rate = soundfile.read(io.BytesIO(response.content), dtype="float32", always_2d=True)
    assert decoded.shape == samples.shape and decoded_rate == rate == 8000
    assert abs(decoded - samples).max() < 0.05  # μ-law's error, not another recording
    # The converted file is kept and seeks like any other.
    part = monitor.get("/calls/C01/audio", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"fLaC"
    assert monitor.get("/calls/C01/audio").content == response.content


def test_a_missing_recording_leaves_the_page_and_answers_404(center, browser, tmp_path) -> None:
    _point(center, "C01", tmp_path / "moved-away.wav", file_sha256(RECORDING))
    monitor = browser("monitor1")
    page = monitor.get("/calls/C01")
    assert page.status_code == 200
    assert 'id="audio-missing"' in page.text and "the recording is missing or was moved" in page.text
    assert 'src="/calls/C01/audio"' not in page.text
    for url in ("/calls/C01/audio", "/api/calls/C01/audio"):
        response = monitor.get(url)
        assert response.status_code == 404
        assert "moved-away.wav" in response.text


def test_a_recording_changed_since_transcription_is_refused(center, browser, tmp_path) -> None:
    changed = tmp_path / "changed.wav"
    shutil.copy(RECORDING, changed)
    _point(center, "C01", changed, "0" * 64)
    response = browser("monitor1").get("/calls/C01/audio")
    assert 400 <= response.status_code < 500
    assert "changed since it was transcribed" in response.text
    api = browser("monitor1").get("/api/calls/C01/audio")
    assert 400 <= api.status_code < 500 and "changed since it was transcribed" in api.json()["detail"]


def test_a_recording_that_is_not_audio_is_refused_with_a_message(center, browser, tmp_path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00not audio at all" * 10)
    _point(center, "C01", broken, None)
    response = browser("monitor1").get("/calls/C01/audio")
    assert 400 <= response.status_code < 500
    assert "broken.wav" in response.text
