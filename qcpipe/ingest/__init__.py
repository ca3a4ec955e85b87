"""A day's recordings + the CTI manifest → `CallSource`s, one per call to process.

Public surface: `CallSource`, `read_manifest`, `discover`, `sources_for`; `settled_recordings`
(waits for recently modified files to settle) and what it yields.
"""

from qcpipe.ingest.settle import SettledRecording, SettleWait, UnreadableRecording, settled_recordings
from qcpipe.ingest.sources import CallSource, discover, read_manifest, sources_for

__all__ = [
    "CallSource",
    "SettleWait",
    "SettledRecording",
    "UnreadableRecording",
    "discover",
    "read_manifest",
    "settled_recordings",
    "sources_for",
]
