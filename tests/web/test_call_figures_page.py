"""The call page's figures and observations: a small block of the call's figures (talk time,
silence, overlaps, agent speech rate, as `qcpipe transcript` and the exports have them), and a
finding of a check that deducts nothing shown as an observation, with nothing to review or appeal.

Changed from the seeded center: C03 (A03, clean, score 100) gets a dead_air observation."""

from __future__ import annotations

import re

import pytest

from qcpipe.store.models import FindingRecord, FindingStatus
from tests.helpers.web import SCRIPT, stored_call


@pytest.fixture
def observed(center) -> int:
    with center.transaction() as session:
        call = stored_call(session, "C03")
        finding = FindingRecord(
            rule_id="dead_air", title="静音（无人说话）", deduction=0.0, severity="minor", veto=False, speaker="agent",
            start_s=11.0, end_s=11.5, quote=f"师傅明天上午上门检修 {SCRIPT}", phrase="", wording="",
            match_kind="measured", match_score=0.0, note="12.0 s with neither party speaking, not announced",
            rulebook_hash=call.rulebook_hash or "", status=FindingStatus.NOTED)
        call.findings.append(finding)
        session.flush()
        return finding.id


def _article(page: str, finding_id: int) -> str:
    found = re.search(rf'<article [^>]*data-finding-id="{finding_id}".*?</article>', page, re.S)
    assert found, f"finding {finding_id} is not on the page"
    return found.group(0)


def test_the_call_page_shows_the_calls_figures(browser) -> None:
    page = browser("monitor1").get("/calls/C01").text
    block = re.search(r'<dl class="call-stats" id="call-stats">.*?</dl>', page, re.S).group(0)
    # C01's scripted turns, read as padded by 0.4 s a side (the stored ASR settings).
    assert "坐席 agent 8.6 s · 客户 customer 2.4 s" in block
    assert "5.2 s · 最长 longest 1.3 s" in block and "<dd>0 · 0.0 s</dd>" in block
    assert re.search(r"<dd>\d{3} 字/分 chars/min</dd>", block)


def test_an_observation_costs_nothing_and_asks_for_no_decision(observed, browser) -> None:
    for user in ("monitor1", "agent03"):
        page = browser(user).get("/calls/C03").text
        article = _article(page, observed)
        assert 'class="finding status-noted"' in article and "仅记录 observation" in article
        assert "测量 measured:" in article and "12.0 s with neither party speaking" in article
        assert "data-observation" in article
        assert 'class="decide"' not in article and 'class="appeal"' not in article
        assert SCRIPT not in article and "&lt;script&gt;" in article  # the quote escaped
        assert 'data-score="100.0"' in page or 'data-score="100"' in page
