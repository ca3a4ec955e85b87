"""The room turned down for a second hearing (`qcpipe.asr.room`)."""

from __future__ import annotations

import numpy as np

from qcpipe.asr.audio import SAMPLE_RATE
from qcpipe.asr.room import FLOOR_DB, _istft, _stft, turned_down


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _call(seed: int = 3) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray]:
    """6 s: a harmonic 'voice' (150 Hz, 12 harmonics, syllable-like bursts) from 1 s to 5 s,
    over a continuous 'room' of shaped noise 15 dB under it. Returns the mix, the speaker's span
    and the room alone."""
    rng = np.random.default_rng(seed)
    t = np.arange(6 * SAMPLE_RATE) / SAMPLE_RATE
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 13))
    voice *= (t >= 1) & (t < 5)
    voice *= 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2  # four syllables a second
    room = np.convolve(rng.standard_normal(len(t)), np.hanning(9), mode="same")
    room *= 10 ** (-15 / 20) * np.sqrt(np.mean(voice[(t >= 1) & (t < 5)] ** 2) / np.mean(room ** 2))
    return (voice + room).astype(np.float32), [(SAMPLE_RATE, 5 * SAMPLE_RATE)], room


def test_frames_put_back_together_are_the_signal() -> None:
    x = np.random.default_rng(0).standard_normal(SAMPLE_RATE + 77)
    spectra, window = _stft(x)
    assert np.allclose(_istft(spectra, window, len(x)), x, atol=1e-9)


def test_the_room_is_turned_down_and_the_speaker_kept() -> None:
    mix, speaker, room = _call()
    out = turned_down(mix, speaker)
    assert out.dtype == np.float32 and out.shape == mix.shape
    alone = slice(0, SAMPLE_RATE)  # only the room talks in the first second
    assert _db(out[alone]) < _db(mix[alone]) - 10  # turned down by at least 10 dB
    assert _db(out[alone]) >= _db(mix[alone]) + FLOOR_DB - 1  # never further than the floor
    speech = slice(2 * SAMPLE_RATE, 4 * SAMPLE_RATE)
    assert abs(_db(out[speech]) - _db(mix[speech])) < 1.5  # the voice keeps its level
    # and what is left of the mix is closer to the voice than the mix was
    voice = mix - room.astype(np.float32)
    assert _db(out[speech] - voice[speech]) < _db(room[speech]) - 3


def test_a_channel_that_is_all_speaker_is_left_as_it_is() -> None:
    mix, _, _ = _call()
    assert turned_down(mix, [(0, len(mix))]) is mix
