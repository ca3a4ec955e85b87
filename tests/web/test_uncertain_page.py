"""Uncertain findings and unheard speech in the web workspace: the call page marks an uncertain
finding 待确认 with its doubt and says it deducts nothing until confirmed, lists the speech that
could not be transcribed (and shows it in the dialogue), the worklist counts and filters uncertain
findings, monitors decide them like open ones, and agents are not offered an appeal.

Changed from the seeded center: C04 (A07, greeting only) has its greeting uncertain (score 100),
agent speech unheard at 12.3–25.0 s and the closing check not applied because of it; C02 (A07,
greeting and closing) has its greeting uncertain (score 95)."""

from __future__ import annotations

import re

import pytest

from qcpipe.scoring.records import update_call_score
from qcpipe.store.models import FindingStatus, UnheardSpan
from tests.helpers.web import SCRIPT, finding_of, listed_calls, stored_call

DOUBT = "the window was heard with low confidence (mean word probability 0.42)"
NOT_APPLIED = ("agent speech at 12.3–25.0 s was heard but could not be transcribed (unheard): "
               "the phrase may have been said there")


@pytest.fixture
def uncertain(center) -> dict[str, int]:
    with center.transaction() as session:
        for call_id, doubt in (("C04", DOUBT), ("C02", f"{DOUBT} {SCRIPT}")):
            finding = finding_of(session, call_id, "greeting")
            finding.status, finding.doubt = FindingStatus.UNCERTAIN, doubt
            update_call_score(finding.call)
        c04 = stored_call(session, "C04")
        c04.unheard = [UnheardSpan(channel=0, role="agent", start_s=12.3, end_s=25.0),
                       UnheardSpan(channel=1, role="customer", start_s=7.1, end_s=7.4)]
        c04.not_applicable = [["closing", NOT_APPLIED]]
        session.flush()
        return {"C04": finding_of(session, "C04", "greeting").id, "C02": finding_of(session, "C02", "greeting").id}


def _article(page: str, finding_id: int) -> str:
    found = re.search(rf'<article [^>]*data-finding-id="{finding_id}".*?</article>', page, re.S)
    assert found, f"finding {finding_id} is not on the page"
    return found.group(0)


def _score(page: str) -> float:
    return float(re.search(r'id="call-score" data-score="([^"]*)"', page).group(1))


def test_the_call_page_marks_the_uncertain_finding_and_the_unheard_speech(uncertain, browser) -> None:
    page = browser("monitor1").get("/calls/C04").text
    article = _article(page, uncertain["C04"])
    assert 'class="finding status-uncertain doubtful"' in article
    assert "待确认 uncertain" in article and f"存疑 doubt：{DOUBT}" in article
    assert "确认前不扣分 · deducts nothing until confirmed" in article
    assert 'class="deduction pending"' in article and 'class="decide"' in article  # decided like an open one
    assert _score(page) == 100 and 'id="uncertain-summary"' in page
    # The unheard spans: listed, summed for the agent, and in the dialogue in their place.
    assert "未能识别的坐席语音 12.3–25.0 s" in page and "未能识别的客户语音 7.1–7.4 s" in page
    assert "坐席有 12.7 s 语音未能识别" in page
    dialogue = page[page.index('class="transcript card"'):]
    starts = re.findall(r'<div class="utterance ([^"]*)" data-start="([\d.]+)"', dialogue)
    assert [("unheard" if "unheard" in kind else "utterance", float(at)) for kind, at in starts] == [
        ("utterance", 0.0), ("utterance", 4.5), ("unheard", 7.1), ("utterance", 7.5), ("utterance", 11.5),
        ("unheard", 12.3), ("utterance", 13.5)]
    # The check not applied, with why.
    assert f"<code>closing</code>：{NOT_APPLIED}" in page


def test_the_doubt_is_escaped(uncertain, browser) -> None:
    page = browser("monitor1").get("/calls/C02").text
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in _article(page, uncertain["C02"])


def test_a_call_without_uncertain_findings_or_unheard_speech_shows_neither(uncertain, browser) -> None:
    page = browser("monitor1").get("/calls/C01").text
    assert "status-uncertain" not in page and 'id="uncertain-summary"' not in page
    assert 'id="unheard"' not in page and "data-unheard" not in page


def test_the_worklist_counts_uncertain_findings_and_filters_to_exactly_them(uncertain, browser) -> None:
    monitor = browser("monitor1")
    flagged = monitor.get("/worklist").text
    assert listed_calls(flagged) == {"C01", "C02", "C04", "C05", "C06"}  # C04 stays: its finding is not ruled on
    row = re.search(r'<tr data-call-id="C04".*?</tr>', flagged, re.S).group(0)
    assert '<span class="badge uncertain"' in row and "1 待确认" in row
    assert "badge uncertain" not in re.search(r'<tr data-call-id="C01".*?</tr>', flagged, re.S).group(0)
    assert re.search(r"<strong>2</strong> <span class=\"badge uncertain\">待确认 uncertain</span>", flagged)
    only = monitor.get("/worklist?state=uncertain").text
    assert listed_calls(only) == {"C02", "C04"}
    assert '<option value="uncertain" selected>待确认 uncertain</option>' in only
    assert listed_calls(monitor.get("/worklist?state=uncertain&agent=A03").text) == set()
    assert "C04" not in listed_calls(monitor.get("/worklist?state=reviewed").text)
    api = monitor.get("/api/calls?state=uncertain").json()
    assert {(i["call_id"], i["uncertain_findings"]) for i in api["items"]} == {("C02", 1), ("C04", 1)}


def test_a_monitor_confirms_an_uncertain_finding_and_it_deducts(uncertain, browser, center) -> None:
    monitor = browser("monitor1")
    page = monitor.get("/calls/C04").text
    version = re.search(rf'data-finding-id="{uncertain["C04"]}"[^>]*data-version="(\d+)"', page).group(1)
    done = monitor.form(f"/findings/{uncertain['C04']}/review", {"decision": "confirm", "version": version})
    assert done.status_code == 303
    page = monitor.get("/calls/C04").text
    assert _score(page) == 95 and "status-confirmed" in _article(page, uncertain["C04"])
    assert "确认前不扣分" not in _article(page, uncertain["C04"])
    # The same version again is a stale page: refused, nothing changed.
    assert monitor.form(f"/findings/{uncertain['C04']}/review", {"decision": "overturn", "version": version}).status_code == 409
    # By the API: overturned, the uncertain finding of C02 still deducts nothing.
    decided = monitor.api(f"/api/findings/{uncertain['C02']}/review", {"decision": "overturn"}).json()
    assert (decided["status"], decided["score"]) == ("overturned", 95)
    with center.session() as session:
        assert stored_call(session, "C04").qa_score == 95


def test_an_agent_is_not_offered_an_appeal_of_an_uncertain_finding(uncertain, browser) -> None:
    agent = browser("agent07")
    article = _article(agent.get("/calls/C04").text, uncertain["C04"])
    assert 'class="appeal"' not in article and "待确认，不扣分，无需申诉" in article
    refused = agent.form(f"/findings/{uncertain['C04']}/appeal", {"reason": "我说了您好"})
    assert refused.status_code == 409 and "nothing to appeal" in refused.text
    assert agent.api(f"/api/findings/{uncertain['C04']}/appeal", {"reason": "我说了您好"}).status_code == 409
