"""A small synthetic center, built with the ORM, whose October 2026 report is computed by hand.

Rules: greeting, closing, hold_notice. Months are Asia/Shanghai. Scores (per call):

    agent team  Jul  Aug  Sep  Oct                 Nov   October: mean, center rank, team rank
    A1    一组  -    60   74   70, 75.5, 80        0     75.2 (225.5/3), 6, 3  failing Aug–Oct, bottom 10 %
    A2    一组  -    -    -    90, 95 (+1 failed)  -     92.5, 2 (tie), 1
    A3    二组  -    -    -    92.5                -     92.5, 2 (tie), 2
    A4    二组  -    -    99   98                  -     98.0, 1, 1, change −1.0
    A5    二组  -    70   85   78                  -     78.0, 5, 3: a passing September breaks the streak
    A6    一组  60   60   -    79                  -     79.0, 4, 2: a September without calls breaks it

Center mean of October: 758 / 9 calls = 84.2. A1's third October call starts 2026-09-30 17:00 UTC
(1 October in Shanghai); its November call starts 2026-10-31 16:30 UTC (1 November in Shanghai).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import count

from qcpipe.store import Agent, Call, CallStatus, FindingRecord, FindingStatus

RULES = ("greeting", "closing", "hold_notice")
_call_numbers = count(1)


def finding(rule_id: str, status: FindingStatus = FindingStatus.OPEN) -> FindingRecord:
    return FindingRecord(
        rule_id=rule_id, title=rule_id, deduction=10, severity="major", veto=False, speaker="agent", start_s=1.0,
        end_s=2.0, quote="", phrase="", wording="", match_kind="absent", match_score=0.0, note="",
        rulebook_hash="test", status=status,
    )


def call(
    agent: Agent,
    started: str,
    score: float | None,
    *,
    applied: Sequence[str] = RULES,
    legacy: bool = False,
    not_applicable: list[list[str]] | None = None,
    findings: tuple[FindingRecord, ...] = (),
    status: CallStatus = CallStatus.DONE,
) -> Call:
    """A call started at `started` (ISO 8601 with offset; a bare date is noon in Shanghai).
    legacy: scored before checks_applied was recorded (it is None)."""
    when = datetime.fromisoformat(started if "T" in started else f"{started}T12:00:00+08:00")
    return Call(
        call_id=f"C{next(_call_numbers):05d}", audio_path="/dev/null", status=status, extra={}, agent=agent,
        started_at=when, qa_score=score, checks_applied=None if legacy else list(applied),
        not_applicable=not_applicable or [], findings=list(findings),
    )
