"""A day's recordings + the CTI manifest → `CallSource`s, one per call to process.

Public surface: `CallSource`, `read_manifest`, `discover`, `sources_for`.
"""

from qcpipe.ingest.sources import CallSource, discover, read_manifest, sources_for

__all__ = ["CallSource", "discover", "read_manifest", "sources_for"]
