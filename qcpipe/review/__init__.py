"""Quality monitors' and agents' decisions on findings: review, appeal, ruling, calibration.

Public surface: `flagged_calls`, `review_finding`, `file_appeal`, `decide_appeal`,
`finding_history`, `calibration`, their result types, and `ReviewError`.
"""

from qcpipe.calls import HistoryEntry
from qcpipe.review.precision import RuleCalibration, calibration
from qcpipe.review.service import (
    DecisionConflict,
    FindingView,
    FlaggedCall,
    PendingAppeal,
    ReviewError,
    appeal_as,
    decide_appeal,
    file_appeal,
    finding_history,
    flagged_calls,
    pending_appeals,
    review_as,
    review_finding,
)

__all__ = [
    "HistoryEntry",
    "DecisionConflict",
    "FindingView",
    "FlaggedCall",
    "PendingAppeal",
    "ReviewError",
    "RuleCalibration",
    "appeal_as",
    "calibration",
    "decide_appeal",
    "file_appeal",
    "finding_history",
    "flagged_calls",
    "pending_appeals",
    "review_as",
    "review_finding",
]
