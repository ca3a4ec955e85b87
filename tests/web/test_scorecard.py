"""Agents' scorecards: /me (an agent's own) and /agents/{id} (team leaders: their team; QA leads, admins: all).

The seeded center's October 2026 (tests.helpers.web): A03 (一组) C01 75 (greeting, 禁语), C03 100,
C05 80 (禁语) → 85.0, rank 1 of 2; A07 (二组) C02 90, C06 70 → 80.0, September C04 95.
"""

from __future__ import annotations

import re

from qcpipe.accounts import Viewer
from qcpipe.config import Settings
from qcpipe.reports import scorecard
from qcpipe.reports.monthly_scope import visible_agent
from qcpipe.review import decide_appeal, file_appeal
from qcpipe.scoring import load_rulebook
from qcpipe.store.models import UserRole, utcnow
from tests.helpers.web import finding_of

OCTOBER = "?month=2026-10"


def worst_calls(html: str) -> list[str]:
    table = html.split('id="worst-calls"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-call-id="([^"]+)"', table)


def check_row(html: str, rule_id: str) -> list[str]:
    """The cells of a check's row of the comparison table, as text."""
    row = html.split('id="check-table"', 1)[1].split(f'<tr data-rule="{rule_id}"', 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_agent_sees_their_own_month(browser) -> None:
    page = browser("agent03").get("/me" + OCTOBER)
    assert page.status_code == 200, page.text[:500]
    assert "A03" in page.text and "A07" not in page.text and "二组" not in page.text
    assert re.search(r'<strong id="score">85.0</strong>', page.text)
    assert re.search(r'<dd id="calls">3</dd>', page.text)
    assert worst_calls(page.text) == ["C01", "C05", "C03"]  # lowest score first
    assert 'href="/calls/C01"' in page.text
    # 禁语 on two of three calls: 66.7 per 100 calls; its compliance 33 %.
    cells = check_row(page.text, "forbidden_phrase")
    assert cells[1:3] == ["2", "66.7"] and cells[4] == "33%"
    # The six months ending in October, with the trend chart drawn on the server.
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="trend"' in page.text
    assert all(m in page.text for m in ("2026-05", "2026-10"))


def test_agent07_never_sees_a03(browser) -> None:
    page = browser("agent07").get("/me" + OCTOBER)
    assert page.status_code == 200
    assert worst_calls(page.text) == ["C06", "C02"]
    assert "A03" not in page.text and "C01" not in page.text and "一组" not in page.text
    assert re.search(r'<strong id="score">80.0</strong>', page.text)
    # September's 95.0 in the trend: the change is −15.0.
    assert "-15.0" in page.text and "95.0" in page.text


def test_me_defaults_to_the_last_scored_month_and_takes_another(browser) -> None:
    agent = browser("agent07")
    assert 'name="month" value="2026-10"' in agent.get("/me").text
    september = agent.get("/me?month=2026-09")
    assert worst_calls(september.text) == ["C04"]
    empty = agent.get("/me?month=2026-03")
    assert empty.status_code == 200 and 'id="no-calls"' in empty.text


def test_appeals_and_their_rulings_show_on_the_scorecard(center, browser) -> None:
    with center.transaction() as session:
        pending = file_appeal(session, finding_of(session, "C05", "forbidden_phrase").id, agent="A03",
                              reason="客户先说的", window_days=3650, now=utcnow())
        ruled = file_appeal(session, finding_of(session, "C01", "greeting").id, agent="A03", reason="我说了您好",
                            window_days=3650, now=utcnow())
        session.flush()
        decide_appeal(session, ruled.id, uphold=False, by="monitor1", comment="录音里没有问候语", now=utcnow())
        pending_id, ruled_id = pending.id, ruled.id
    # Filed and ruled now (November 2026 or later): the pending one shows in any month; the ruled
    # one in the month it was ruled.
    month = utcnow().strftime("%Y-%m")
    october = browser("agent03").get("/me" + OCTOBER).text
    assert f'data-appeal-id="{pending_id}"' in october and "客户先说的" in october
    now = browser("agent03").get(f"/me?month={month}").text
    ruled_row = now.split(f'data-appeal-id="{ruled_id}"', 1)[1].split("</tr>", 1)[0]
    assert "维持扣分 rejected" in ruled_row and "录音里没有问候语" in ruled_row and "monitor1" in ruled_row
    # The team leader sees the same on the agent's page; agent07 sees none of it.
    assert f'data-appeal-id="{pending_id}"' in browser("leader1").get("/agents/A03" + OCTOBER).text
    assert "客户先说的" not in browser("agent07").get("/me" + OCTOBER).text


def test_team_leader_opens_their_agents_only(browser) -> None:
    leader = browser("leader1")
    page = leader.get("/agents/A03" + OCTOBER)
    assert page.status_code == 200
    assert worst_calls(page.text) == ["C01", "C05", "C03"]
    assert "/reports/monthly?month=2026-10&amp;team=%E4%B8%80%E7%BB%84" in page.text  # back to the team's report
    assert leader.get("/agents/A07" + OCTOBER).status_code == 404
    assert leader.get("/agents/NOBODY").status_code == 404


def test_lead_opens_any_agent(browser) -> None:
    lead = browser("lead")
    page = lead.get("/agents/A07" + OCTOBER)
    assert page.status_code == 200
    assert worst_calls(page.text) == ["C06", "C02"]
    assert lead.get("/agents/NOBODY").status_code == 404


def test_who_may_open_which_scorecard(browser) -> None:
    assert browser("agent03").get("/agents/A03").status_code == 403  # an agent's is /me
    assert browser("lead").get("/me").status_code == 403
    assert browser("monitor1").get("/agents/A03").status_code == 403


def test_the_scorecard_agrees_with_the_monthly_report(center) -> None:
    """The service: this month's line is the report's own; the team comparison counts the team's misses."""
    settings, rulebook = Settings(), load_rulebook()
    with center.session() as session:
        agent = visible_agent(session, Viewer("lead", UserRole.QA_LEAD), "A07")
        card = scorecard(session, agent, "2026-10", pass_line=settings.pass_line, timezone=settings.timezone,
                         rule_ids=rulebook.scored_rule_ids, rule_titles=rulebook.titles)
    assert card.line is not None and (card.line.score, card.line.calls, card.line.rank_in_center) == (80.0, 2, 2)
    assert [(p.month, p.score) for p in card.trend] == [("2026-09", 95.0), ("2026-10", 80.0)]
    assert card.trend_months == ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
    greeting = next(c for c in card.checks if c.rule_id == "greeting")
    assert (greeting.misses, greeting.per_100_calls, greeting.team_per_100_calls) == (2, 100.0, 100.0)
    assert greeting.compliance == 0.0 and greeting.team_compliance == 0.0
    assert [c.call_id for c in card.worst_calls] == ["C06", "C02"]
    assert set(card.worst_calls[0].rules) == {"greeting", "forbidden_phrase", "closing"}
