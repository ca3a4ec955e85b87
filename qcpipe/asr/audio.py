"""Decode recorder output into float32 channels at 16 kHz, block by block.

Recorders export WAV (PCM 8/16/24/32-bit, float, μ-law, A-law), FLAC, OGG and MP3 at any
rate. libsndfile (soundfile) reads all of those; PyAV (FFmpeg) reads whatever it cannot
(AAC/M4A, WMA, odd WAV variants). Resampling uses soxr's high-quality filter: a naive
interpolation aliases telephone noise into the speech band and costs ASR accuracy.

A recording is read as a stream (`open_audio`): a few minutes at a time are decoded and
resampled, so a two-hour call costs the memory of one block, not of the whole call.
`load_audio` reads a whole (short) file into memory, for clips and tests.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile
import soxr

from qcpipe.errors import AudioError, shown_path

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".amr"})
# Seconds decoded at a time: bounds the memory a call needs. Voice activity detection runs a
# block in one batch whose activations grow with it (a 300 s block costs ~200 MB more than a
# 60 s one); a minute still fills a 30 s decoder window or two per channel (bench_long_call.py).
BLOCK_S = 60.0


@dataclass(frozen=True)
class CallAudio:
    """A decoded recording in memory: `samples` has shape (channels, n) at 16 kHz."""

    path: Path
    samples: np.ndarray
    source_rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE

    def blocks(self, seconds: float = BLOCK_S) -> Iterator[np.ndarray]:
        """The samples in consecutive (channels, n) blocks of `seconds`, like `AudioStream.blocks`."""
        step = max(1, int(seconds * SAMPLE_RATE))
        for start in range(0, self.samples.shape[1], step):
            yield self.samples[:, start : start + step]


class AudioStream:
    """An open recording, read in blocks at 16 kHz. Use `open_audio`; close it (or use `with`).

    `frames` counts the 16 kHz samples per channel delivered so far and `decode_s` the seconds
    spent decoding and resampling them (the rest of a call's time is recognition).
    """

    def __init__(self, path: Path, channels: int, source_rate: int, decoder: Iterator[np.ndarray], closer) -> None:
        self.path = path
        self.channels = channels
        self.source_rate = source_rate
        self.frames = 0
        self.decode_s = 0.0
        self._decoder = decoder
        self._close = closer

    @property
    def duration(self) -> float:
        return self.frames / SAMPLE_RATE

    def blocks(self, seconds: float = BLOCK_S) -> Iterator[np.ndarray]:
        """(channels, n) float32 blocks at 16 kHz, about `seconds` long (the last one shorter).

        Raises AudioError naming the file when it holds no samples at all.
        """
        wanted = max(1, int(seconds * self.source_rate))
        resampler = None if self.source_rate == SAMPLE_RATE else soxr.ResampleStream(
            self.source_rate, SAMPLE_RATE, self.channels, dtype="float32", quality="HQ"
        )
        pending: list[np.ndarray] = []  # source-rate pieces, (n, channels)
        held = 0
        started = time.perf_counter()
        for piece in self._decoder:
            pending.append(piece)
            held += len(piece)
            while held >= wanted:
                data = np.concatenate(pending)
                pending, held = [data[wanted:]], held - wanted
                block = self._deliver(data[:wanted], resampler, last=False)
                self.decode_s += time.perf_counter() - started
                if block.shape[1]:
                    yield block
                started = time.perf_counter()
        data = np.concatenate(pending) if pending else np.zeros((0, self.channels), dtype=np.float32)
        block = self._deliver(data, resampler, last=True)
        self.decode_s += time.perf_counter() - started
        if block.shape[1]:
            yield block
        if self.frames == 0:
            raise AudioError(self.path, "no audio samples (header only or truncated)")

    def _deliver(self, data: np.ndarray, resampler: soxr.ResampleStream | None, last: bool) -> np.ndarray:
        if resampler is not None:
            data = resampler.resample_chunk(data, last=last)
        block = np.ascontiguousarray(data.T, dtype=np.float32)
        self.frames += block.shape[1]
        return block

    def read_all(self) -> CallAudio:
        """The whole recording in memory (short files only: clips, tests)."""
        blocks = list(self.blocks())
        return CallAudio(self.path, np.concatenate(blocks, axis=1), self.source_rate)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_audio(path: Path | str) -> AudioStream:
    """Open any recorder format for reading in blocks, channels kept apart.

    Raises AudioError naming the file and the cause when it cannot be opened, is empty, or is
    not audio.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(path, f"cannot open: {exc.strerror or exc}") from None
    if size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        handle = soundfile.SoundFile(os.fsencode(path))  # bytes: a GBK-named file opens too
    except soundfile.LibsndfileError as sf_error:
        return _open_with_ffmpeg(path, str(sf_error))
    except OSError as exc:
        raise AudioError(path, f"cannot read: {exc.strerror or exc}") from None
    if handle.frames == 0:
        handle.close()
        raise AudioError(path, "no audio samples (header only or truncated)")
    return AudioStream(path, handle.channels, handle.samplerate, _soundfile_pieces(path, handle), handle.close)


def load_audio(path: Path | str) -> CallAudio:
    """Read a whole recording into memory at 16 kHz (see `open_audio` for long calls)."""
    with open_audio(path) as stream:
        return stream.read_all()


def _soundfile_pieces(path: Path, handle: soundfile.SoundFile, frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """(n, channels) float32 pieces. Where libsndfile gives up inside the file (an MP3 damaged
    beyond its resync), FFmpeg, which skips bad packets, takes over from the same sample."""
    delivered = 0
    try:
        while True:
            piece = handle.read(frames, dtype="float32", always_2d=True)
            if not len(piece):
                return
            delivered += len(piece)
            yield piece
    except soundfile.LibsndfileError as exc:
        where = f"{delivered / handle.samplerate:.1f} s"
        log.warning("%s: libsndfile stopped at %s (%s); decoding the rest with FFmpeg", shown_path(path), where, exc)
        reason = f"unreadable audio after {where} ({exc})"
    try:
        rest = _open_with_ffmpeg(path, reason)
    except AudioError:
        raise AudioError(path, reason) from None
    with rest:
        for piece in rest._decoder:
            if delivered >= len(piece):
                delivered -= len(piece)
                continue
            yield piece[delivered:]
            delivered = 0


def _open_with_ffmpeg(path: Path, sf_error: str) -> AudioStream:
    import av  # imported lazily: only formats libsndfile lacks need FFmpeg

    try:
        str(path).encode("utf-8")
        source: str | BinaryIO = str(path)
    except UnicodeEncodeError:  # PyAV cannot hand FFmpeg a name that is not UTF-8: open it ourselves
        source = open(path, "rb")  # noqa: SIM115 - closed with the stream

    def close() -> None:
        if not isinstance(source, str):
            source.close()

    try:
        container = av.open(source)
    except Exception as exc:  # FFmpeg raises many types; all mean "not decodable audio"
        close()
        raise AudioError(path, f"not a readable audio file ({_short(sf_error)}; ffmpeg: {_short(str(exc))})") from None
    stream = container.streams.audio[0] if container.streams.audio else None
    context = stream.codec_context if stream is not None else None
    rate = context.sample_rate if context is not None else 0
    channels = (getattr(context, "channels", None) or context.layout.nb_channels) if context is not None else 0
    if not rate or not channels:
        container.close()
        close()
        raise AudioError(path, "no audio stream in file" if stream is None else
                         f"not a readable audio file ({_short(sf_error)}; ffmpeg: no sample rate or channels)")

    def close_all() -> None:
        container.close()
        close()

    return AudioStream(path, channels, rate, _ffmpeg_pieces(path, container, stream, channels), close_all)


def _ffmpeg_pieces(path: Path, container, stream, channels: int) -> Iterator[np.ndarray]:
    """Decoded frames as (n, channels) float32. A damaged packet (a bad MP3 frame) is skipped,
    as players do: one corrupt frame must not cost the whole call."""
    import av

    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue
            for frame in frames:
                data = frame.to_ndarray()  # (channels, n) planar, (1, n * channels) packed
                if data.shape[0] == 1 and channels > 1:
                    data = data.reshape(-1, channels).T
                if np.issubdtype(data.dtype, np.integer):
                    data = data.astype(np.float32) / np.iinfo(data.dtype).max
                yield data.T.astype(np.float32, copy=False)
    except av.error.FFmpegError as exc:
        raise AudioError(path, f"unreadable audio ({_short(str(exc))})") from None


def _short(message: str) -> str:
    return message.splitlines()[0][:160] if message else "unknown error"


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """Content hash of a recording: a re-run skips a call whose audio is unchanged."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
