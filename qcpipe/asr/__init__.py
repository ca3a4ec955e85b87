"""Audio → speaker-attributed transcript.

Public surface: `open_audio` (streamed) and `load_audio` (in memory), `Transcriber`, and the result types `Transcript`, `Segment`,
`Word`, `SpeechRegion`, `Role`, `AsrOptions`.
"""

from qcpipe.asr.audio import AudioStream, CallAudio, file_sha256, load_audio, open_audio
from qcpipe.asr.transcriber import Transcriber, resolve_device
from qcpipe.asr.types import AsrOptions, Role, Segment, SpeechRegion, Transcript, Word

__all__ = [
    "AsrOptions",
    "AudioStream",
    "CallAudio",
    "Role",
    "Segment",
    "SpeechRegion",
    "Transcriber",
    "Transcript",
    "Word",
    "file_sha256",
    "load_audio",
    "open_audio",
    "resolve_device",
]
