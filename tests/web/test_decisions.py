"""Confirming and overturning, by form and by API: the score follows at once, and two monitors
deciding the same finding from the same page cannot both win."""

from __future__ import annotations

import re

import pytest

from qcpipe.store.models import FindingStatus
from tests.helpers.web import finding_of, finding_versions, recomputed_score, stored_call


def _state(center, call_id: str, rule_id: str):
    """(status, version, reviews as (decision, reviewer), call score, score recomputed from the findings)."""
    with center.session() as session:
        finding = finding_of(session, call_id, rule_id)
        call = stored_call(session, call_id)
        return (finding.status, finding.version, [(r.decision, r.reviewer) for r in finding.reviews], call.qa_score,
                recomputed_score(call))


def _shown_score(page: str) -> float:
    return float(re.search(r'id="call-score" data-score="([^"]*)"', page).group(1))


@pytest.fixture
def greeting(center) -> tuple[int, float]:
    """C01's greeting finding: (id, deduction)."""
    with center.session() as session:
        finding = finding_of(session, "C01", "greeting")
        return finding.id, finding.deduction


def test_a_form_decision_changes_the_score_at_once(center, browser, greeting) -> None:
    finding, deduction = greeting
    monitor = browser("monitor1")
    before = _state(center, "C01", "greeting")[3]
    confirmed = monitor.form(f"/findings/{finding}/review", {"decision": "confirm", "version": "1"})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == f"/calls/C01#finding-{finding}"
    status, version, reviews, score, recomputed = _state(center, "C01", "greeting")
    assert (status, version, reviews) == (FindingStatus.CONFIRMED, 2, [("confirm", "monitor1")])
    assert score == recomputed == before  # a confirmed finding still deducts

    overturned = monitor.form(f"/findings/{finding}/review", {"decision": "overturn", "version": "2", "comment": "说了"})
    assert overturned.status_code == 303
    status, version, reviews, score, recomputed = _state(center, "C01", "greeting")
    assert status == FindingStatus.OVERTURNED and len(reviews) == 2
    assert score == recomputed == before + deduction  # an overturned finding no longer deducts
    assert _shown_score(monitor.get("/calls/C01").text) == score


def test_an_api_decision_answers_the_new_score(center, browser, greeting) -> None:
    finding, deduction = greeting
    monitor = browser("monitor1")
    before = _state(center, "C01", "greeting")[3]
    response = monitor.api(f"/api/findings/{finding}/review", {"decision": "overturn", "comment": "ok", "version": 1})
    assert response.status_code == 200
    body = response.json()
    status, version, _, score, recomputed = _state(center, "C01", "greeting")
    assert body == {"call_id": "C01", "score": score, "finding_id": finding, "status": "overturned", "version": version}
    assert score == recomputed == before + deduction
    assert monitor.get("/api/calls/C01").json()["score"] == score


def test_the_second_of_two_monitors_on_the_same_page_is_refused(center, browser, greeting) -> None:
    finding, _ = greeting
    first, second = browser("monitor1"), browser("monitor2")
    seen_first = finding_versions(first.get("/calls/C01").text)[finding]
    seen_second = finding_versions(second.get("/calls/C01").text)[finding]
    assert seen_first == seen_second == 1
    assert first.form(f"/findings/{finding}/review", {"decision": "overturn", "version": seen_first}).status_code == 303
    late = second.form(f"/findings/{finding}/review", {"decision": "confirm", "version": seen_second})
    assert late.status_code == 409
    assert re.search(r"already decided \(overturned\) by monitor1 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", late.text)
    status, _, reviews, score, recomputed = _state(center, "C01", "greeting")
    assert status == FindingStatus.OVERTURNED and reviews == [("overturn", "monitor1")]  # the first decision stands
    assert score == recomputed
    # The API answers the same with the stale version.
    stale = second.api(f"/api/findings/{finding}/review", {"decision": "confirm", "version": seen_second})
    assert stale.status_code == 409 and "already decided (overturned) by monitor1 at" in stale.json()["detail"]
    assert _state(center, "C01", "greeting")[2] == [("overturn", "monitor1")]


def test_the_api_without_a_version_reviews_again(center, browser, greeting) -> None:
    finding, deduction = greeting
    first, second = browser("monitor1"), browser("monitor2")
    assert first.api(f"/api/findings/{finding}/review", {"decision": "overturn"}).json()["version"] == 2
    again = second.api(f"/api/findings/{finding}/review", {"decision": "confirm", "comment": "重听后确认"})
    assert again.status_code == 200 and again.json()["status"] == "confirmed" and again.json()["version"] == 3
    status, _, reviews, score, recomputed = _state(center, "C01", "greeting")
    assert reviews == [("overturn", "monitor1"), ("confirm", "monitor2")]  # the latest decision counts
    assert score == recomputed and again.json()["score"] == score


def test_a_decision_must_be_confirm_or_overturn(center, browser, greeting) -> None:
    finding, _ = greeting
    monitor = browser("monitor1")
    assert monitor.form(f"/findings/{finding}/review", {"decision": "maybe"}).status_code == 400
    assert monitor.api(f"/api/findings/{finding}/review", {"decision": "maybe"}).status_code == 422
    assert monitor.form("/findings/99999/review", {"decision": "confirm"}).status_code == 404
    assert _state(center, "C01", "greeting")[2] == []
