"""What people and recordings wrote shows as text: a transcript, a quote, a name, a comment or an
appeal holding markup is escaped wherever a page prints it."""

from __future__ import annotations

import re

import pytest

from tests.helpers.web import SCRIPT, dialogue, finding_of, seed_call_rows

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG = "<img src=x onerror=alert(2)>"
IMG_ESCAPED = "&lt;img src=x onerror=alert(2)&gt;"


def _no_markup(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html


@pytest.fixture
def marked_up(center, rulebook) -> int:
    """Call X01 of A03, renamed to markup: its first line (the greeting finding's quote) holds a
    script; the greeting finding's id."""
    with center.transaction() as session:
        seed_call_rows(session, rulebook, {"X01": ("A03", "2026-10-11", dialogue(f"{SCRIPT}喂"))})
    with center.transaction() as session:
        finding = finding_of(session, "X01", "greeting")
        assert SCRIPT in finding.quote
        finding.call.agent.name = SCRIPT
        return finding.id


@pytest.mark.parametrize("who", ["monitor1", "agent03"])
def test_a_transcript_line_and_a_quote_with_markup_show_as_text(who, browser, marked_up) -> None:
    page = browser(who).get("/calls/X01")
    assert page.status_code == 200
    _no_markup(page.text)
    assert f"<q class=\"seek\" data-seek=\"0.0\">{ESCAPED}喂</q>" in page.text  # the quote
    assert re.search(r'<span class="w"[^>]*>&lt;</span><span class="w"[^>]*>s</span>', page.text)  # the transcript's words
    assert page.text.count("<script") == 1  # the page's own call.js only
    listing = browser(who).get("/worklist?state=any")
    assert "X01" in listing.text
    _no_markup(listing.text)
    assert ESCAPED in listing.text  # the agent's name


def test_a_filter_value_with_markup_is_echoed_as_text(browser) -> None:
    page = browser("monitor1").get("/worklist", params={"rule": f'">{SCRIPT}'})
    assert page.status_code == 200
    _no_markup(page.text)
    assert f'value="&#34;&gt;{ESCAPED}"' in page.text


def test_a_comment_and_an_appeal_with_markup_show_as_text(browser, marked_up) -> None:
    agent, monitor = browser("agent03"), browser("monitor1")
    assert agent.form(f"/findings/{marked_up}/appeal", {"reason": f"{IMG}我说了"}).status_code == 303
    appeals = monitor.get("/appeals")
    _no_markup(appeals.text)
    assert f"{IMG_ESCAPED}我说了" in appeals.text and f"{ESCAPED}喂" in appeals.text
    appeal_id = appeals.text.split('data-appeal-id="', 1)[1].split('"', 1)[0]
    assert monitor.form(f"/appeals/{appeal_id}/rule", {"ruling": "reject", "comment": f"{SCRIPT}维持"}).status_code == 303
    for who in (agent, monitor):
        page = who.get("/calls/X01")
        _no_markup(page.text)
        assert f"{IMG_ESCAPED}我说了" in page.text  # the appeal in the history
        assert f"{ESCAPED}维持" in page.text  # the ruling's comment


def test_a_review_comment_with_markup_shows_as_text(browser, center) -> None:
    with center.session() as session:
        finding = finding_of(session, "C01", "greeting").id
    monitor = browser("monitor1")
    assert monitor.form(f"/findings/{finding}/review", {"decision": "confirm", "comment": IMG}).status_code == 303
    page = monitor.get("/calls/C01")
    _no_markup(page.text)
    assert f"monitor1：{IMG_ESCAPED}" in page.text
