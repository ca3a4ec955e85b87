"""A call's recording as a browser can play it, for the web workspace's player.

Browsers play PCM WAV, FLAC, MP3 and Ogg as they are: those files are served as stored (with
HTTP Range, so seeking a two-hour call is instant). Others (μ-law/A-law WAV from telephone
recorders, formats only FFmpeg reads) are converted once to FLAC, both channels kept, into a
cache named by the recording's sha256, and served from there.

The recording must still be the one that was transcribed: a file changed since (another call
copied over it) would make the monitor hear other words than the evidence quotes. That is
checked by sha256 once per file version (size and mtime), not on every seek.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from qcpipe.asr.audio import SAMPLE_RATE, file_sha256, load_audio
from qcpipe.errors import AudioError, shown_path

_PLAYABLE = {
    ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "PCM_U8"), ("WAV", "FLOAT"),
    ("FLAC", "PCM_16"), ("FLAC", "PCM_24"), ("FLAC", "PCM_S8"), ("OGG", "VORBIS"), ("OGG", "OPUS"),
    ("MP3", "MPEG_LAYER_III"),
}
_MEDIA_TYPES = {"WAV": "audio/wav", "FLAC": "audio/flac", "OGG": "audio/ogg", "MP3": "audio/mpeg"}

_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) → sha256
_lock = threading.Lock()


@dataclass(frozen=True)
class PlayableAudio:
    path: Path
    media_type: str


def playable(recording: Path, content_hash: str | None, cache_dir: Path) -> PlayableAudio:
    """The file to send for a recording. AudioError (naming the file) when it is missing,
    unreadable, or not the audio that was transcribed."""
    try:
        stat = recording.stat()
    except OSError as exc:
        raise AudioError(recording, f"the recording cannot be opened: {exc.strerror or exc}") from None
    if content_hash:
        key = (str(recording), stat.st_size, stat.st_mtime_ns)
        with _lock:
            known = _verified.get(key)
        if known is None:
            known = file_sha256(recording)
            with _lock:
                _verified[key] = known
        if known != content_hash:
            raise AudioError(recording, "the recording changed since it was transcribed (sha256 differs): "
                                        "what it holds now is not the evidence")
    try:
        info = soundfile.info(str(recording))
        kind = (info.format, info.subtype)
    except (soundfile.LibsndfileError, RuntimeError):
        kind = None
    if kind in _PLAYABLE:
        return PlayableAudio(recording, _MEDIA_TYPES[kind[0]])
    return PlayableAudio(_converted(recording, content_hash or f"{stat.st_size}-{stat.st_mtime_ns}", cache_dir), "audio/flac")


def _converted(recording: Path, key: str, cache_dir: Path) -> Path:
    target = cache_dir / f"{key}.flac"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        with soundfile.SoundFile(str(recording)) as source:
            samples, rate = source.read(dtype="float32", always_2d=True), source.samplerate
    except (soundfile.LibsndfileError, RuntimeError):
        audio = load_audio(recording)  # what only FFmpeg reads, at the pipeline's rate
        samples, rate = np.ascontiguousarray(audio.samples.T), SAMPLE_RATE
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    try:
        soundfile.write(str(partial), samples, rate, format="FLAC", subtype="PCM_16")
        os.replace(partial, target)  # a half-written cache file is never served
    except (OSError, soundfile.LibsndfileError) as exc:
        partial.unlink(missing_ok=True)
        raise AudioError(recording, f"cannot prepare it for playing in {shown_path(cache_dir)}: {exc}") from None
    return target
