"""Filter forms sent by GET carry their empty fields: an empty field is no filter."""

from __future__ import annotations

import re


def _calls(html: str) -> set[str]:
    return set(re.findall(r'<tr data-call-id="([^"]+)"', html))


def test_empty_filter_fields_are_no_filter(browser) -> None:
    lead = browser("lead")
    plain = lead.get("/worklist?state=any")
    blank = lead.get("/worklist?date_from=&date_to=&team=&agent=&rule=&state=any&score_below=&queue=")
    assert blank.status_code == 200 and _calls(blank.text) == _calls(plain.text) != set()
    assert lead.get("/api/calls?date_from=&date_to=&agent=").json()["total"] == lead.get("/api/calls").json()["total"]


def test_a_bad_date_is_still_refused(browser) -> None:
    response = browser("lead").get("/worklist?date_from=2026-13-01")
    assert response.status_code == 422 and "date_from" in response.text
