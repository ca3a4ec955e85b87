"""Every recorder format and rate decodes to two 16 kHz channels that still hold the call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from qcpipe.asr import load_audio, open_audio
from qcpipe.asr.audio import SAMPLE_RATE
from qcpipe.errors import AudioError
from tests.helpers.audio import write_audio

# (container, subtype) pairs recorders export.
FORMATS = [
    ("WAV", "PCM_U8"),
    ("WAV", "PCM_16"),
    ("WAV", "PCM_24"),
    ("WAV", "PCM_32"),
    ("WAV", "FLOAT"),
    ("WAV", "ULAW"),
    ("WAV", "ALAW"),
    ("FLAC", "PCM_16"),
    ("OGG", "VORBIS"),
    ("MP3", "MPEG_LAYER_III"),
]
RATES = [8000, 11025, 16000, 22050, 44100, 48000]


def _at_rate(opening_stereo, rate: int) -> np.ndarray:
    data, source_rate = opening_stereo
    return data if rate == source_rate else soxr.resample(data, source_rate, rate)


def _reference(opening_stereo) -> np.ndarray:
    data, rate = opening_stereo
    return soxr.resample(data, rate, SAMPLE_RATE).T


def _envelope(x: np.ndarray) -> np.ndarray:
    """Short-time energy every 10 ms: robust to codec noise and sub-frame shifts."""
    return np.sqrt(np.convolve(x**2, np.ones(400) / 400, mode="valid"))[::160]


def _similarity(a: np.ndarray, b: np.ndarray, max_lag: int = 30) -> float:
    """Best envelope correlation within ±300 ms (codecs such as AAC and MP3 add priming delay)."""
    ea, eb = _envelope(a), _envelope(b)
    n = min(len(ea), len(eb)) - max_lag
    return max(float(np.corrcoef(ea[lag : lag + n], eb[:n])[0, 1]) for lag in range(max_lag))


def _write_m4a(path: Path, data: np.ndarray, rate: int) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data.T), format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.mark.parametrize("container,subtype", FORMATS, ids=[f"{c}-{s}" for c, s in FORMATS])
def test_every_format_decodes_to_two_channels(tmp_path: Path, opening_stereo, container: str, subtype: str) -> None:
    rate = 8000 if container != "MP3" else 16000
    path = write_audio(tmp_path / f"call.{container.lower()}", _at_rate(opening_stereo, rate), rate, subtype, container)
    audio = load_audio(path)
    assert audio.channels == 2
    assert audio.source_rate == rate
    assert audio.duration == pytest.approx(11.0, abs=0.1)
    reference = _reference(opening_stereo)
    for channel in (0, 1):  # each channel still carries its own party, not the other's
        assert _similarity(audio.samples[channel], reference[channel]) > 0.9
    assert _similarity(audio.samples[0], reference[1]) < 0.5


@pytest.mark.parametrize("rate", RATES)
def test_any_sample_rate_is_resampled_to_16k(tmp_path: Path, opening_stereo, rate: int) -> None:
    path = write_audio(tmp_path / "call.wav", _at_rate(opening_stereo, rate), rate, "PCM_16")
    audio = load_audio(path)
    assert audio.samples.shape[1] == pytest.approx(11 * SAMPLE_RATE, abs=SAMPLE_RATE * 0.01)
    assert audio.samples.dtype == np.float32
    assert _similarity(audio.samples[0], _reference(opening_stereo)[0]) > 0.9


def test_formats_libsndfile_lacks_fall_back_to_ffmpeg(tmp_path: Path, opening_stereo) -> None:
    data, rate = opening_stereo
    path = tmp_path / "call.m4a"
    _write_m4a(path, data, rate)  # AAC in MP4: libsndfile cannot read it
    audio = load_audio(path)
    assert audio.channels == 2
    assert audio.duration == pytest.approx(11.0, abs=0.2)
    assert _similarity(audio.samples[1], _reference(opening_stereo)[1]) > 0.9


def test_mono_recording_keeps_one_channel(tmp_path: Path, opening_stereo) -> None:
    data, rate = opening_stereo
    path = write_audio(tmp_path / "mono.wav", data.mean(axis=1), rate, "PCM_16")
    assert load_audio(path).channels == 1


def test_empty_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: empty file"):
        load_audio(path)


def test_text_file_named_wav_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "page.wav"
    path.write_text("<html><body>404 Not Found</body></html>")
    with pytest.raises(AudioError, match=r"page\.wav: not a readable audio file"):
        load_audio(path)


def test_header_only_wav_is_an_error(tmp_path: Path, opening_stereo) -> None:
    data, rate = opening_stereo
    full = write_audio(tmp_path / "full.wav", data, rate, "PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(full.read_bytes()[:44])
    with pytest.raises(AudioError, match="truncated.wav"):
        load_audio(truncated)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="nowhere.wav: cannot open"):
        load_audio(tmp_path / "nowhere.wav")


def test_real_corpus_formats_decode(dev_corpus: Path) -> None:
    for name in ("D110000.flac", "D110008.mp3", "D110004.wav", "D110001.wav"):
        audio = load_audio(dev_corpus / "audio" / name)
        info = soundfile.info(str(dev_corpus / "audio" / name))
        assert audio.channels == 2
        assert audio.duration == pytest.approx(info.duration, abs=0.1)


@pytest.mark.parametrize("container,subtype", [("WAV", "ULAW"), ("FLAC", "PCM_16"), ("MP3", "MPEG_LAYER_III")])
def test_streamed_blocks_join_into_the_whole_recording(tmp_path: Path, opening_stereo, container: str, subtype: str) -> None:
    """A long call is read a block at a time; the blocks, resampled as a stream, are the file."""
    data, rate = opening_stereo
    path = write_audio(tmp_path / f"call.{container.lower()}", data, rate, subtype, container)
    whole = load_audio(path)
    with open_audio(path) as stream:
        blocks = list(stream.blocks(seconds=2.0))
        assert stream.frames == whole.samples.shape[1]
    assert len(blocks) >= 5 and all(b.shape[0] == 2 for b in blocks)
    assert all(abs(b.shape[1] - 2 * SAMPLE_RATE) <= 2 * SAMPLE_RATE * 0.05 for b in blocks[:-1])
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), whole.samples, atol=1e-5)


def test_ffmpeg_formats_stream_too(tmp_path: Path, opening_stereo) -> None:
    data, rate = opening_stereo
    path = tmp_path / "call.m4a"
    _write_m4a(path, data, rate)
    with open_audio(path) as audio:
        blocks = list(audio.blocks(seconds=3.0))
        assert audio.source_rate == rate and audio.channels == 2
    assert len(blocks) >= 3
    assert np.concatenate(blocks, axis=1).shape[1] == pytest.approx(data.shape[0] * SAMPLE_RATE / rate, rel=0.02)
