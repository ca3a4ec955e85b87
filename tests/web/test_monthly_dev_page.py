"""The monthly report page over the dev corpus run through the real pipeline (Whisper + the default
rulebook): the October page singles out A03 and A07 as the CLI report does
(tests/reports/test_monthly_dev.py), and a team leader's page and JSON keep to their team."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from qcpipe.config import Settings
from qcpipe.reports import ScoreFlag
from qcpipe.store import Database
from qcpipe.store.models import User
from qcpipe.web import create_app
from tests.helpers.web import PASSWORD, cheap_hash, logged_in

pytestmark = pytest.mark.asr

SINGLED_OUT = {ScoreFlag.BELOW_PASS_LINE.value, ScoreFlag.BOTTOM_10_PERCENT.value}


@pytest.fixture
def dev_app(dev_db_copy: Database):
    """The app over a private copy of the scored dev corpus, with a QA lead and 一组's team leader."""
    with dev_db_copy.transaction() as session:
        for name, role, team in (("lead", "qa_lead", None), ("leader1", "team_leader", "一组")):
            session.add(User(username=name, role=role, team=team, password_hash=cheap_hash(PASSWORD), disabled=False))
    return create_app(Settings(db_url=dev_db_copy.url), dev_db_copy)


def _client(app, name: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    logged_in(client, name)
    return client


def test_october_page_singles_out_a03_and_a07(dev_app) -> None:
    lead = _client(dev_app, "lead")
    body = lead.get("/api/reports/monthly?month=2026-10").json()
    rows = {row["agent_id"]: row for row in body["rows"]}
    assert set(rows) == {f"A0{n}" for n in range(1, 9)}
    assert [row["agent_id"] for row in body["rows"][-2:]] in (["A03", "A07"], ["A07", "A03"])  # the two lowest ranks
    for agent_id in ("A03", "A07"):
        assert SINGLED_OUT & set(rows[agent_id]["flags"]), rows[agent_id]
    flagged_bottom = {a for a, row in rows.items() if ScoreFlag.BOTTOM_10_PERCENT.value in row["flags"]}
    assert flagged_bottom and flagged_bottom <= {"A03", "A07"}

    page = lead.get("/reports/monthly?month=2026-10")
    assert page.status_code == 200
    ranking = page.text.split('id="ranking"', 1)[1].split("</table>", 1)[0]
    listed = re.findall(r'<tr data-agent-id="([^"]+)" class="([^"]*)"', ranking)
    assert [agent for agent, _ in listed][-2:] == [row["agent_id"] for row in body["rows"][-2:]]
    assert {agent for agent, css in listed if "flagged" in css} >= {"A03", "A07"}
    attention = page.text.split('id="attention"', 1)[1].split("</section>", 1)[0]
    assert "A03" in attention and "A07" in attention


def test_team_leader_of_the_first_team_sees_a03_not_a07(dev_app) -> None:
    leader = _client(dev_app, "leader1")
    body = leader.get("/api/reports/monthly?month=2026-10").json()
    assert {row["agent_id"] for row in body["rows"]} == {"A01", "A02", "A03", "A04"}
    assert body["rows"][-1]["agent_id"] == "A03"
    assert "A07" not in leader.get("/reports/monthly?month=2026-10").text
    assert leader.get("/agents/A07?month=2026-10").status_code == 404
    assert leader.get("/agents/A03?month=2026-10").status_code == 200
