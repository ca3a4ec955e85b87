"""Stored calls as the people who read them see them: listings, the dialogue, findings, exports.

Every view of a transcript or a quote is built here, and personal numbers are masked here as
`PrivacySettings` says, whatever the database holds: the CLI, the web workspace, exports and
the trainers' packs show the same text.

Public surface: `list_calls`, `call_detail`, `shown_dialogue`, `shown_quote`, `FindingView`,
`transcript_records`, `finding_records`, and their result types.
"""

from qcpipe.calls.export import FindingExport, TranscriptExport, finding_records, transcript_records
from qcpipe.calls.views import (
    UNDECIDED,
    AppealView,
    CallDetail,
    CallRow,
    FindingDetail,
    FindingView,
    HistoryEntry,
    UnheardView,
    Utterance,
    call_detail,
    deducting_since,
    history_of,
    list_calls,
    shown_dialogue,
    shown_quote,
    visible_call,
    visible_finding,
)

__all__ = [
    "AppealView", "CallDetail", "CallRow", "FindingDetail", "HistoryEntry", "history_of", "visible_call", "visible_finding", "FindingExport", "FindingView", "TranscriptExport", "UNDECIDED", "UnheardView", "Utterance", "call_detail", "deducting_since",
    "finding_records", "list_calls", "shown_dialogue", "shown_quote", "transcript_records",
]
