"""Audio → speaker-attributed transcript.

Public surface: `load_audio`, `Transcriber`, and the result types `Transcript`, `Segment`,
`Word`, `SpeechRegion`, `Role`, `AsrOptions`.
"""

from qcpipe.asr.audio import CallAudio, file_sha256, load_audio
from qcpipe.asr.transcriber import Transcriber, resolve_device
from qcpipe.asr.types import AsrOptions, Role, Segment, SpeechRegion, Transcript, Word

__all__ = [
    "AsrOptions",
    "CallAudio",
    "Role",
    "Segment",
    "SpeechRegion",
    "Transcriber",
    "Transcript",
    "Word",
    "file_sha256",
    "load_audio",
    "resolve_device",
]
