"""The monthly report on the dev corpus run through the real pipeline: A03 and A07, who break the
rules far more than the others, must stand out in October 2026."""

from __future__ import annotations

import pytest

from qcpipe.config import Settings
from qcpipe.reports import ScoreFlag, monthly_report
from qcpipe.scoring import load_rulebook

pytestmark = pytest.mark.asr


def test_october_singles_out_a03_and_a07(dev_db) -> None:
    settings = Settings()
    with dev_db.session() as session:
        report = monthly_report(
            session, "2026-10", pass_line=settings.pass_line, timezone=settings.timezone, rule_ids=load_rulebook().rule_ids
        )
    assert report.center_calls == 22  # every October call of calls.csv, by Shanghai time
    assert {a.agent_id for a in report.agents} == {f"A0{n}" for n in range(1, 9)}
    by_id = {a.agent_id: a for a in report.agents}
    for agent_id in ("A03", "A07"):
        assert {ScoreFlag.BELOW_PASS_LINE, ScoreFlag.BOTTOM_10_PERCENT} & set(by_id[agent_id].flags), by_id[agent_id]
    bottom = {a.agent_id for a in report.agents if ScoreFlag.BOTTOM_10_PERCENT in a.flags}
    assert bottom and bottom <= {"A03", "A07"}
    assert {a.agent_id for a in report.agents[-2:]} == {"A03", "A07"}  # the two lowest ranks
