"""Edited dev-corpus calls that show what the timing and loudness checks look for.

Each edit is a function on float32 samples shaped (channels, n) at the file's own rate (the dev
corpus is 8 kHz stereo: channel 0 the agent, 1 the customer), with times in seconds of the
recording it is given; the label's turns say where the words are. The edits model what happens
on a real line, so the real pipeline (VAD, Whisper, scoring) has to find it:

    dead air      silence inserted on both channels (the line held without a word)
    interruption  an agent utterance laid over the customer's speech, starting after they did
    speech rate   the whole call played faster, pitch unchanged (WSOLA time-stretch, not resampling)
    hang-up       the recording cut off while the customer is talking
    raised voice  one agent utterance played louder

    clip = splice(load_call("D110012"), [(0.0, 31.0), (44.5, None)])   # a short call from a long one
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile

from tests.helpers.degrade import AGENT, wsola
from tests.helpers.paths import DEV_CORPUS
from tests.helpers.calls import dev_label


def load_call(call_id: str) -> tuple[np.ndarray, int]:
    """A dev call's samples (channels, n) and rate."""
    label = dev_label(call_id)
    audio, rate = soundfile.read(str(DEV_CORPUS / label["audio"]), dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T), rate


def write_call(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Write (channels, n) samples as a stereo PCM16 WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.clip(samples, -1.0, 32767 / 32768).T, rate, subtype="PCM_16", format="WAV")
    return path


def _at(seconds: float, rate: int) -> int:
    return int(round(seconds * rate))


def splice(call: tuple[np.ndarray, int], pieces: Sequence[tuple[float, float | None]]) -> tuple[np.ndarray, int]:
    """The pieces [(start, end), …] of a call joined in order (end None: to the end); cut where
    nobody speaks, the joins are not heard."""
    x, rate = call
    return np.concatenate([x[:, _at(a, rate):None if b is None else _at(b, rate)] for a, b in pieces], axis=1), rate


def insert_silence(call: tuple[np.ndarray, int], at: float, seconds: float) -> tuple[np.ndarray, int]:
    """`seconds` of silence on every channel inserted at `at`: what follows comes that much later.
    The line's own noise is kept under it (a quiet stretch of the call repeated), so that the
    silence sounds like a held line, not like digital zero."""
    x, rate = call
    quiet = _quietest_stretch(x, rate)
    length = _at(seconds, rate)
    filler = np.tile(quiet, (1, -(-length // quiet.shape[1])))[:, :length]
    cut = _at(at, rate)
    return np.concatenate([x[:, :cut], filler, x[:, cut:]], axis=1), rate


def overlay(call: tuple[np.ndarray, int], source: tuple[float, float], at: float, channel: int = AGENT
            ) -> tuple[np.ndarray, int]:
    """The stretch `source` of `channel` played again on that channel from `at` (added to what is
    there): one party talking over the other."""
    x, rate = call
    piece = x[channel, _at(source[0], rate):_at(source[1], rate)]
    y = x.copy()
    start = _at(at, rate)
    end = min(y.shape[1], start + len(piece))
    y[channel, start:end] += piece[: end - start]
    return y, rate


def tempo(call: tuple[np.ndarray, int], speed: float) -> tuple[np.ndarray, int]:
    """The whole call `speed` times as fast, pitch unchanged (WSOLA, both channels cut alike)."""
    x, rate = call
    return wsola(x, rate, speed), rate


def cut_at(call: tuple[np.ndarray, int], end: float) -> tuple[np.ndarray, int]:
    """The recording stopped at `end` seconds."""
    x, rate = call
    return x[:, :_at(end, rate)], rate


def louder(call: tuple[np.ndarray, int], span: tuple[float, float], db: float, channel: int = AGENT
           ) -> tuple[np.ndarray, int]:
    """`channel` `db` louder over `span` (clipped at full scale, as a recorder would)."""
    x, rate = call
    y = x.copy()
    a, b = _at(span[0], rate), _at(span[1], rate)
    y[channel, a:b] = np.clip(y[channel, a:b] * 10 ** (db / 20), -1.0, 1.0)
    return y, rate


def _quietest_stretch(x: np.ndarray, rate: int, seconds: float = 0.5) -> np.ndarray:
    """The quietest `seconds` of the call over all channels (its line noise)."""
    size = _at(seconds, rate)
    power = np.square(x.astype(np.float64)).sum(axis=0)
    windows = np.add.reduceat(power, np.arange(0, len(power) - size, size))
    start = int(np.argmin(windows)) * size
    return x[:, start:start + size]
