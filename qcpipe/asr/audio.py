"""Decode recorder output into float32 channels at 16 kHz.

Recorders export WAV (PCM 8/16/24/32-bit, float, μ-law, A-law), FLAC, OGG and MP3 at any
rate. libsndfile (soundfile) reads all of those; PyAV (FFmpeg) reads whatever it cannot
(AAC/M4A, WMA, odd WAV variants). Resampling uses soxr's high-quality filter: a naive
interpolation aliases telephone noise into the speech band and costs ASR accuracy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from qcpipe.errors import AudioError

SAMPLE_RATE = 16_000
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".amr"})


@dataclass(frozen=True)
class CallAudio:
    """A decoded recording: `samples` has shape (channels, n) at 16 kHz."""

    path: Path
    samples: np.ndarray
    source_rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE


def load_audio(path: Path | str) -> CallAudio:
    """Read any recorder format, keep the channels apart, resample to 16 kHz.

    Raises AudioError naming the file and the cause when the file is empty, not audio,
    or holds no samples.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(path, f"cannot open: {exc.strerror or exc}") from None
    if size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as sf_error:
        data, rate = _read_with_ffmpeg(path, str(sf_error))
    except OSError as exc:
        raise AudioError(path, f"cannot read: {exc.strerror or exc}") from None
    if data.shape[0] == 0:
        raise AudioError(path, "no audio samples (header only or truncated)")
    samples = np.ascontiguousarray(data.T)
    if rate != SAMPLE_RATE:
        samples = np.stack([soxr.resample(ch, rate, SAMPLE_RATE, quality="HQ") for ch in samples])
    return CallAudio(path=path, samples=samples.astype(np.float32, copy=False), source_rate=int(rate))


def _read_with_ffmpeg(path: Path, sf_error: str) -> tuple[np.ndarray, int]:
    import av  # imported lazily: only formats libsndfile lacks need FFmpeg

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(path, "no audio stream in file")
            stream = container.streams.audio[0]
            frames = [f.to_ndarray() for f in container.decode(stream)]
            rate = stream.codec_context.sample_rate
    except AudioError:
        raise
    except Exception as exc:  # FFmpeg raises many types; all mean "not decodable audio"
        raise AudioError(path, f"not a readable audio file ({_short(sf_error)}; ffmpeg: {_short(str(exc))})") from None
    if not frames:
        raise AudioError(path, "no audio samples (header only or truncated)")
    data = np.concatenate(frames, axis=1)  # (channels, n) for planar, (1, n*ch) for packed
    channels = stream.codec_context.channels if hasattr(stream.codec_context, "channels") else stream.layout.nb_channels
    if data.shape[0] == 1 and channels > 1:
        data = data.reshape(-1, channels).T
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / np.iinfo(data.dtype).max
    return data.T.astype(np.float32), int(rate)


def _short(message: str) -> str:
    return message.splitlines()[0][:160] if message else "unknown error"


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """Content hash of a recording: a re-run skips a call whose audio is unchanged."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
