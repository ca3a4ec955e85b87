"""The database: typed ORM tables, migrations, and the reads/writes the stages share.

Public surface: `open_database`, `Database`, the tables in `models`, and `repository`.
"""

from qcpipe.store.db import Database, open_database
from qcpipe.store.models import (
    Agent,
    Call,
    CallClaim,
    CallStatus,
    FindingRecord,
    FindingStatus,
    Segment,
    SpeechRegion,
    Team,
)

__all__ = [
    "Agent", "Call", "CallClaim", "CallStatus", "Database", "FindingRecord", "FindingStatus", "Segment", "SpeechRegion", "Team",
    "open_database",
]
