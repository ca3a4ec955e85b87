"""Whose calls each person sees: an agent their own, a team leader their team's, the others all.
A call outside one's scope answers exactly as a call that does not exist (404): whether it exists
is not theirs to know either."""

from __future__ import annotations

import re

import pytest

from tests.helpers.web import CALLS, TEAMS, finding_of, listed_calls

A03_CALLS = {c for c, (agent, _, _) in CALLS.items() if agent == "A03"}
TEAM1_CALLS = {c for c, (agent, _, _) in CALLS.items() if TEAMS[agent] == "一组"}
A07_CALL, NO_CALL = "C02", "C99"


def _same_answer(seen, unknown, seen_id: str, unknown_id: str) -> None:
    """404 both, and the same body but for the id asked about."""
    assert (seen.status_code, unknown.status_code) == (404, 404)
    assert _without(seen.text, seen_id) == _without(unknown.text, unknown_id)


def _without(text: str, object_id: str) -> str:
    return re.sub(rf"(?<![\w-]){re.escape(object_id)}(?![\w-])", "ID", text)


@pytest.mark.parametrize("path", ["/calls/{}", "/api/calls/{}", "/calls/{}/audio", "/api/calls/{}/audio"])
def test_an_agent_gets_not_found_for_another_agents_call(path, browser) -> None:
    agent = browser("agent03")
    assert agent.get(path.format("C01")).status_code == 200  # their own
    _same_answer(agent.get(path.format(A07_CALL)), agent.get(path.format(NO_CALL)), A07_CALL, NO_CALL)


def test_the_next_call_after_another_agents_is_one_of_their_own(browser) -> None:
    agent = browser("agent03")
    following = agent.get(f"/calls/{A07_CALL}/next")
    assert following.status_code == 303
    assert following.headers["location"] in {f"/calls/{call_id}" for call_id in A03_CALLS}


def test_an_agent_cannot_appeal_another_agents_finding(center, browser) -> None:
    with center.session() as session:
        other = finding_of(session, A07_CALL, "greeting").id
    agent = browser("agent03")
    unknown = other + 1000
    _same_answer(agent.form(f"/findings/{other}/appeal", {"reason": "x"}),
                 agent.form(f"/findings/{unknown}/appeal", {"reason": "x"}), str(other), str(unknown))
    _same_answer(agent.api(f"/api/findings/{other}/appeal", {"reason": "x"}),
                 agent.api(f"/api/findings/{unknown}/appeal", {"reason": "x"}), str(other), str(unknown))
    # Reviewing is not theirs at all, whoever's finding it is.
    assert agent.form(f"/findings/{other}/review", {"decision": "overturn"}).status_code == 403
    with center.session() as session:
        assert finding_of(session, A07_CALL, "greeting").appeals == []


def test_an_agents_lists_hold_only_their_calls(browser) -> None:
    agent = browser("agent03")
    assert listed_calls(agent.get("/worklist").text) == A03_CALLS  # every call of theirs, clean ones too
    listing = agent.get("/api/calls").json()
    assert {item["call_id"] for item in listing["items"]} == A03_CALLS
    assert {item["agent_id"] for item in listing["items"]} == {"A03"}
    assert listing["total"] == len(A03_CALLS)
    # Asking for another agent's calls finds none rather than theirs.
    assert agent.get("/api/calls?agent=A07").json()["total"] == 0
    assert listed_calls(agent.get("/worklist?agent=A07").text) == set()


def test_a_team_leader_sees_their_team_only(browser) -> None:
    leader = browser("leader1")
    assert listed_calls(leader.get("/worklist").text) == TEAM1_CALLS
    assert {item["call_id"] for item in leader.get("/api/calls").json()["items"]} == TEAM1_CALLS
    assert leader.get("/calls/C01").status_code == 200
    for path in ("/calls/{}", "/api/calls/{}", "/calls/{}/audio"):
        _same_answer(leader.get(path.format(A07_CALL)), leader.get(path.format(NO_CALL)), A07_CALL, NO_CALL)
    assert leader.get("/api/calls?team=二组").json()["total"] == 0


def test_a_trainer_sees_every_call_but_cannot_review(center, browser) -> None:
    trainer = browser("trainer")
    assert {item["call_id"] for item in trainer.get("/api/calls").json()["items"]} == set(CALLS)
    assert listed_calls(trainer.get("/worklist").text) == set(CALLS)
    for call_id in CALLS:
        assert trainer.get(f"/calls/{call_id}").status_code == 200
    page = trainer.get(f"/calls/{A07_CALL}").text
    assert 'class="decide"' not in page and 'class="appeal"' not in page  # no forms they could not use
    with center.session() as session:
        finding = finding_of(session, A07_CALL, "greeting").id
    assert trainer.form(f"/findings/{finding}/review", {"decision": "overturn"}).status_code == 403
    assert trainer.api(f"/api/findings/{finding}/review", {"decision": "overturn"}).status_code == 403
    with center.session() as session:
        assert finding_of(session, A07_CALL, "greeting").reviews == []
