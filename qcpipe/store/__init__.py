"""The database: typed ORM tables, migrations, and the queries the stages share.

The store is the leaf of the package: it imports no stage. Each stage maps its own objects to
rows (`pipeline.records`, `scoring.records`).

Public surface: `open_database`, `Database`, the tables in `models`, `repository` (queries) and
`claims` (which running batch works on which call).
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
