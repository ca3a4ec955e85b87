"""Fixtures of the report tests: a small synthetic center, built with the ORM, whose October 2026
report is computed by hand, and that report.

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
The rows come from `tests.helpers.rows` (`call`, `finding`; RULES are the three rules).
"""

from __future__ import annotations

import pytest

from qcpipe.store import Agent, CallStatus, FindingStatus, Team
from tests.helpers.rows import RULES, call, finding


@pytest.fixture
def center(db):
    """The center described above, in a fresh database."""
    with db.transaction() as session:
        team1, team2 = Team(name="一组"), Team(name="二组")
        a1, a2, a6 = (Agent(code=code, name=name, team=team1) for code, name in (("A1", "王磊"), ("A2", "李静"), ("A6", "刘洋")))
        a3, a4, a5 = (Agent(code=code, name=name, team=team2) for code, name in (("A3", "陈晨"), ("A4", "赵丽"), ("A5", "杨帆")))
        session.add_all([
            call(a1, "2026-08-10", 60), call(a1, "2026-09-10", 74),
            call(a1, "2026-10-05", 70, applied=["greeting", "closing"],
                 findings=(finding("greeting"), finding("closing", FindingStatus.OVERTURNED))),
            call(a1, "2026-10-06", 75.5, findings=(finding("hold_notice", FindingStatus.CONFIRMED),)),
            # Scored before checks_applied existed: every check but the one ruled out.
            call(a1, "2026-09-30T17:00:00+00:00", 80, legacy=True, not_applicable=[["hold_notice", "no hold"]],
                 findings=(finding("greeting", FindingStatus.CONFIRMED),)),
            call(a1, "2026-10-31T16:30:00+00:00", 0),
            call(a2, "2026-10-07", 90, applied=["greeting"]), call(a2, "2026-10-08", 95, applied=["greeting"]),
            call(a2, "2026-10-09", None, status=CallStatus.FAILED),
            call(a2, "2026-10-10", None),  # transcribed, not yet scored
            call(a3, "2026-10-11", 92.5),
            call(a4, "2026-09-12", 99), call(a4, "2026-10-12", 98),
            call(a5, "2026-08-13", 70), call(a5, "2026-09-13", 85), call(a5, "2026-10-13", 78),
            call(a6, "2026-07-14", 60), call(a6, "2026-08-14", 60), call(a6, "2026-10-14", 79),
        ])
    return db


@pytest.fixture
def october(center):
    from qcpipe.reports import monthly_report

    with center.session() as session:
        return monthly_report(session, "2026-10", pass_line=80, timezone="Asia/Shanghai", rule_ids=RULES)
