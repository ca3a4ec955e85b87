"""Appeals: an agent appeals a finding of their own call within the window; a monitor's ruling is
final and shows on the agent's call page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from qcpipe.store.models import Appeal, FindingRecord, FindingStatus, utcnow
from tests.helpers.web import finding_of, recomputed_score, stored_call


@pytest.fixture
def findings(center) -> dict[str, int]:
    """A03's findings: C01's greeting and forbidden phrase, C05's forbidden phrase."""
    with center.session() as session:
        return {"greeting": finding_of(session, "C01", "greeting").id,
                "forbidden": finding_of(session, "C01", "forbidden_phrase").id,
                "C05": finding_of(session, "C05", "forbidden_phrase").id}


def _article(page: str, finding_id: int) -> str:
    """The `<article>` of one finding on a call page."""
    found = re.search(rf'<article [^>]*data-finding-id="{finding_id}".*?</article>', page, re.S)
    assert found, f"finding {finding_id} is not on the page"
    return found.group(0)


def _appeals(center) -> list[tuple[int, str, str]]:
    with center.session() as session:
        return [(a.finding_id, a.agent, a.status) for a in session.scalars(select(Appeal).order_by(Appeal.id))]


def test_an_agent_appeals_by_form_and_by_api(center, browser, findings) -> None:
    agent = browser("agent03")
    assert 'class="appeal"' in _article(agent.get("/calls/C01").text, findings["greeting"])
    filed = agent.form(f"/findings/{findings['greeting']}/appeal", {"reason": "我说了您好，录音里有"})
    assert filed.status_code == 303 and filed.headers["location"] == f"/calls/C01#finding-{findings['greeting']}"
    by_api = agent.api(f"/api/findings/{findings['C05']}/appeal", {"reason": "客户先骂人"})
    assert by_api.status_code == 200
    assert by_api.json() == {"appeal_id": by_api.json()["appeal_id"], "finding_id": findings["C05"], "status": "pending"}
    assert _appeals(center) == [(findings["greeting"], "A03", "pending"), (findings["C05"], "A03", "pending")]
    article = _article(agent.get("/calls/C01").text, findings["greeting"])
    assert 'class="appeal"' not in article and "appeal pending" in article
    # One pending appeal per finding; an empty reason is no appeal.
    assert agent.form(f"/findings/{findings['greeting']}/appeal", {"reason": "again"}).status_code == 409
    assert agent.api(f"/api/findings/{findings['forbidden']}/appeal", {"reason": ""}).status_code == 422
    assert agent.form(f"/findings/{findings['forbidden']}/appeal", {"reason": "  "}).status_code == 409
    assert len(_appeals(center)) == 2


def test_an_appeal_after_the_window_is_refused_with_the_date(center, browser, findings, web_settings) -> None:
    raised = utcnow() - timedelta(days=web_settings.appeal_window_days, hours=1)
    with center.transaction() as session:
        session.execute(update(FindingRecord).where(FindingRecord.id == findings["forbidden"]).values(created_at=raised))
    closed_on = f"{raised + timedelta(days=web_settings.appeal_window_days):%Y-%m-%d}"
    agent = browser("agent03")
    article = _article(agent.get("/calls/C01").text, findings["forbidden"])
    assert 'class="appeal"' not in article and "appeal window closed" in article
    for refused in (agent.form(f"/findings/{findings['forbidden']}/appeal", {"reason": "晚了"}),
                    agent.api(f"/api/findings/{findings['forbidden']}/appeal", {"reason": "晚了"})):
        assert refused.status_code == 409
        assert f"closed on {closed_on}" in refused.text
    assert _appeals(center) == []
    # The other finding of the same call is still in its window.
    assert agent.form(f"/findings/{findings['greeting']}/appeal", {"reason": "在期限内"}).status_code == 303


def _file(agent, finding_id: int) -> int:
    response = agent.api(f"/api/findings/{finding_id}/appeal", {"reason": "我说了"})
    assert response.status_code == 200
    return response.json()["appeal_id"]


def test_a_monitors_ruling_is_final_and_shows_to_the_agent(center, browser, findings) -> None:
    agent, monitor, other = browser("agent03"), browser("monitor1"), browser("monitor2")
    appeal = _file(agent, findings["greeting"])
    waiting = monitor.get("/appeals").text
    assert f'data-appeal-id="{appeal}"' in waiting and "我说了" in waiting
    # While it waits, the finding is not reviewed around the appeal.
    assert monitor.form(f"/findings/{findings['greeting']}/review", {"decision": "confirm"}).status_code == 409

    ruled = monitor.form(f"/appeals/{appeal}/rule", {"ruling": "uphold", "comment": "录音里说了"})
    assert ruled.status_code == 303 and ruled.headers["location"] == "/appeals"
    assert f'data-appeal-id="{appeal}"' not in monitor.get("/appeals").text
    with center.session() as session:
        finding = finding_of(session, "C01", "greeting")
        assert finding.status == FindingStatus.OVERTURNED
        call = stored_call(session, "C01")
        assert call.qa_score == recomputed_score(call)
    article = _article(agent.get("/calls/C01").text, findings["greeting"])
    assert 'data-ruling="upheld"' in article and "录音里说了" in article
    assert 'class="appeal"' not in article

    # Final: a second ruling, a new appeal, a review are all refused.
    for refused in (other.form(f"/appeals/{appeal}/rule", {"ruling": "reject"}),
                    other.api(f"/api/appeals/{appeal}/ruling", {"ruling": "reject"})):
        assert refused.status_code == 409 and "final" in refused.text
    assert agent.form(f"/findings/{findings['greeting']}/appeal", {"reason": "再来"}).status_code == 409
    assert other.api(f"/api/findings/{findings['greeting']}/review", {"decision": "confirm"}).status_code == 409
    assert _appeals(center) == [(findings["greeting"], "A03", "upheld")]
    with center.session() as session:
        assert finding_of(session, "C01", "greeting").status == FindingStatus.OVERTURNED


def test_a_rejected_appeal_confirms_the_finding(center, browser, findings) -> None:
    agent, monitor = browser("agent03"), browser("monitor1")
    appeal = _file(agent, findings["C05"])
    response = monitor.api(f"/api/appeals/{appeal}/ruling", {"ruling": "reject", "comment": "确实说了"})
    assert response.status_code == 200
    assert response.json() == {"appeal_id": appeal, "status": "rejected", "finding_id": findings["C05"],
                               "finding_status": "confirmed", "score": 80.0}
    assert 'data-ruling="rejected"' in _article(agent.get("/calls/C05").text, findings["C05"])
    assert monitor.form("/appeals/99999/rule", {"ruling": "reject"}).status_code == 404
    assert monitor.form(f"/appeals/{appeal}/rule", {"ruling": "maybe"}).status_code == 400
