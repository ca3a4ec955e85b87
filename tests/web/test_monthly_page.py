"""The monthly report in the web workspace: the page, its JSON and downloads, scoped by role.

The seeded center's October 2026 (tests.helpers.web): A03 (一组) C01 75, C03 100, C05 80 → 85.0;
A07 (二组) C02 90, C06 70 → 80.0, September C04 95 → change −15.0. Two agents: the bottom 10 % is
one agent, A07. The team leader leader1 leads 一组.
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from qcpipe.accounts import Viewer
from qcpipe.review import review_as
from qcpipe.store.models import UserRole, utcnow
from qcpipe.web.monthly import heat_class
from tests.helpers.web import finding_of

OCTOBER = "/reports/monthly?month=2026-10"


def ranked_agents(html: str) -> list[str]:
    """The agent ids of the ranking table, in order."""
    ranking = html.split('id="ranking"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-agent-id="([^"]+)"', ranking)


def heat_links(html: str) -> list[str]:
    heatmap = html.split('id="heatmap"', 1)[1].split("</table>", 1)[0]
    return [link.replace("&amp;", "&") for link in re.findall(r'<a href="(/worklist\?[^"]+)"', heatmap)]


def test_lead_sees_the_whole_center_ranked_with_flags_and_heatmap(browser) -> None:
    lead = browser("lead")
    page = lead.get(OCTOBER)
    assert page.status_code == 200, page.text[:500]
    assert ranked_agents(page.text) == ["A03", "A07"]
    assert "全中心 whole center" in page.text
    # A07: 80.0, the lowest of two agents: the bottom 10 %; change against September's 95.0.
    row = page.text.split('<tr data-agent-id="A07"', 1)[1].split("</tr>", 1)[0]
    assert "80.0" in row and "-15.0" in row and 'data-flag="bottom_10_percent"' in row
    assert 'href="/agents/A07?month=2026-10"' in row
    # Each team's option, to pick another team.
    assert '<option value="一组"' in page.text and '<option value="二组"' in page.text
    # The trend charts, drawn on the server.
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg" class="trend"') == 2
    assert "style=" not in page.text.split("<main>", 1)[1]  # the CSP forbids inline styles


def test_lead_picks_a_team(browser) -> None:
    page = browser("lead").get(OCTOBER + "&team=二组")
    assert page.status_code == 200
    assert ranked_agents(page.text) == ["A07"]


def test_heatmap_cells_carry_the_rate_colour_and_open_the_calls_behind_them(browser) -> None:
    page = browser("lead").get(OCTOBER)
    # A07 missed the greeting on both October calls (C02, C06): 0 %, red, linked to those calls.
    cell = re.search(r'<td class="heat (heat-\w+)" data-rule="greeting">(.*?)</td>',
                     page.text.split('id="heatmap"', 1)[1].split('<tr data-agent-id="A07">', 1)[1])
    assert cell and cell.group(1) == "heat-0" and "0%" in cell.group(2)
    links = heat_links(page.text)
    wanted = {"agent": ["A07"], "rule": ["greeting"], "date_from": ["2026-10-01"], "date_to": ["2026-10-31"],
              "state": ["deducting"]}
    assert any(parse_qs(urlsplit(link).query) == wanted for link in links), links
    listing = browser("lead").get(next(link for link in links if parse_qs(urlsplit(link).query) == wanted))
    assert set(re.findall(r'<tr data-call-id="([^"]+)"', listing.text)) == {"C02", "C06"}


def test_a_cell_lists_only_the_calls_its_rate_counts_as_misses(browser, center) -> None:
    """An overturned finding is no miss: the cell's rate and its list of calls both leave it out."""
    with center.transaction() as session:
        finding = finding_of(session, "C06", "greeting")
        review_as(session, Viewer("lead", UserRole.QA_LEAD), finding.id, confirm=False, comment="说了您好", now=utcnow())
    page = browser("lead").get(OCTOBER)
    link = next(link for link in heat_links(page.text)
                if parse_qs(urlsplit(link).query).get("agent") == ["A07"] and "rule=greeting" in link)
    listing = browser("lead").get(link)
    assert set(re.findall(r'<tr data-call-id="([^"]+)"', listing.text)) == {"C02"}


@pytest.mark.parametrize("rate, css", [(None, "heat-na"), (0.0, "heat-0"), (0.5, "heat-5"), (0.8, "heat-8"),
                                       (0.95, "heat-9"), (1.0, "heat-10")])
def test_heat_classes_are_tenths_rounded_down(rate, css) -> None:
    assert heat_class(rate) == css


def test_team_leader_sees_only_their_team(browser) -> None:
    leader = browser("leader1")
    for url in (OCTOBER, OCTOBER + "&team=一组", "/reports/monthly"):
        page = leader.get(url)
        assert page.status_code == 200, (url, page.text[:300])
        assert ranked_agents(page.text) == ["A03"], url
        assert "A07" not in page.text, url
        assert '<option value="二组"' not in page.text
    heat = heat_links(leader.get(OCTOBER).text)
    assert heat and all("agent=A03" in link for link in heat)
    # The cell opens A03's calls only, and the worklist keeps the leader's team whatever the link says.
    calls = leader.get(next(link for link in heat if "rule=forbidden_phrase" in link))
    assert set(re.findall(r'<tr data-call-id="([^"]+)"', calls.text)) == {"C01", "C05"}


def test_team_leader_gets_not_found_for_another_team(browser) -> None:
    leader = browser("leader1")
    for url in (OCTOBER + "&team=二组", "/api/reports/monthly?month=2026-10&team=二组",
                "/reports/monthly/download?month=2026-10&team=二组&format=csv"):
        assert leader.get(url).status_code == 404, url


def test_default_month_is_the_last_with_scored_calls(browser) -> None:
    page = browser("lead").get("/reports/monthly")
    assert "monthly report 2026-10" in page.text
    assert 'name="month" value="2026-10"' in page.text


def test_a_month_without_calls_says_so(browser) -> None:
    page = browser("lead").get("/reports/monthly?month=2025-01")
    assert page.status_code == 200
    assert 'id="no-calls"' in page.text and 'id="ranking"' not in page.text
    assert 'id="downloads"' not in page.text


def test_bad_month_and_unknown_team_are_refused(browser) -> None:
    lead = browser("lead")
    assert lead.get("/reports/monthly?month=2026-13").status_code == 400
    assert lead.get("/reports/monthly?month=2026-10&team=九组").status_code == 404
    assert lead.get("/api/reports/monthly?month=October").status_code == 400


def test_json_rows_have_the_documented_shape(browser) -> None:
    body = browser("lead").get("/api/reports/monthly?month=2026-10").json()
    assert body["month"] == "2026-10" and body["team"] is None
    rows = {row["agent_id"]: row for row in body["rows"]}
    assert list(rows) == ["A03", "A07"]
    for row in rows.values():
        assert set(row) == {"agent_id", "agent_name", "team", "calls", "score", "rank", "flags", "compliance"}
    assert rows["A03"]["team"] == "一组" and rows["A03"]["flags"] == []
    assert (rows["A03"]["calls"], rows["A03"]["score"], rows["A03"]["rank"]) == (3, 85.0, 1)
    assert (rows["A07"]["calls"], rows["A07"]["score"], rows["A07"]["rank"]) == (2, 80.0, 2)
    assert rows["A07"]["flags"] == ["bottom_10_percent"]
    assert rows["A07"]["compliance"]["greeting"] == 0.0
    assert rows["A03"]["compliance"]["forbidden_phrase"] == pytest.approx(1 / 3)


def test_json_of_the_team_leader_is_their_team(browser) -> None:
    body = browser("leader1").get("/api/reports/monthly?month=2026-10").json()
    assert body["team"] == "一组"
    assert [row["agent_id"] for row in body["rows"]] == ["A03"]


def test_downloads_are_the_report_writers_files_of_the_scope(browser) -> None:
    lead, leader = browser("lead"), browser("leader1")
    got = lead.get("/reports/monthly/download?month=2026-10&format=csv")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [row["agent_id"] for row in rows] == ["A03", "A07", "(center)"]

    mine = leader.get("/reports/monthly/download?month=2026-10&format=csv")
    assert [row["agent_id"] for row in csv.DictReader(io.StringIO(mine.content.decode("utf-8-sig")))] == \
        ["A03", "(center)"]
    assert "filename*=UTF-8''qcpipe-monthly-2026-10-%E4%B8%80%E7%BB%84.csv" in mine.headers["content-disposition"]

    book = leader.get("/reports/monthly/download?month=2026-10&format=xlsx")
    assert book.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(book.content)).active
    listed = [row[0] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert listed == ["A03", "(center)"]

    html = leader.get("/reports/monthly/download?month=2026-10&format=html")
    assert html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"]
    assert "A03" in html.text and "A07" not in html.text


def test_download_of_an_empty_month_is_not_found(browser) -> None:
    assert browser("lead").get("/reports/monthly/download?month=2025-01&format=csv").status_code == 404


def test_other_roles_may_not_open_the_report(browser) -> None:
    for name in ("agent03", "monitor1", "trainer"):
        assert browser(name).get(OCTOBER).status_code == 403, name
        assert browser(name).get("/api/reports/monthly").status_code == 403, name
