"""Review work given by a QA lead: flagged calls (evenly, or N each) and a sample of the calls the
machine did not flag; each monitor's queue holds exactly their calls until they finish them."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from urllib.parse import unquote_plus

from fastapi.testclient import TestClient
from sqlalchemy import select

from qcpipe.store.models import Call, FindingStatus, ReviewAssignment, utcnow
from qcpipe.web import create_app
from tests.helpers.databases import copy_rows, temporary_database
from tests.helpers.web import GREETING, Browser, dialogue, finding_of, listed_calls, logged_in, seed_call_rows, stored_call

FLAGGED = {"C01", "C02", "C04", "C05", "C06"}  # the seeded calls with open findings, C03 is clean
MONITORS = ("monitor1", "monitor2")

# The week of Monday 2026-11-02: A03 has six clean calls (S01 already given to monitor2 before the
# sample is drawn) and a flagged one, A07 two clean ones; a clean call of A03 the week before.
WEEK = {
    "S01": ("A03", "2026-11-02", dialogue(GREETING)), "S02": ("A03", "2026-11-03", dialogue(GREETING)),
    "S03": ("A03", "2026-11-04", dialogue(GREETING)), "S04": ("A03", "2026-11-05", dialogue(GREETING)),
    "S05": ("A03", "2026-11-06", dialogue(GREETING)), "S06": ("A03", "2026-11-08", dialogue(GREETING)),
    "S07": ("A03", "2026-11-04", dialogue("喂")),
    "S08": ("A07", "2026-11-03", dialogue(GREETING)), "S09": ("A07", "2026-11-07", dialogue(GREETING)),
    "S10": ("A03", "2026-11-01", dialogue(GREETING)),
}
CANDIDATES = {"A03": {"S02", "S03", "S04", "S05", "S06"}, "A07": {"S08", "S09"}}
PERCENT = 30.0


def _assignments(database) -> dict[str, tuple[str, str, bool]]:
    """{call id: (monitor, reason, done)}."""
    with database.session() as session:
        rows = session.execute(select(Call.call_id, ReviewAssignment.monitor, ReviewAssignment.reason,
                                      ReviewAssignment.done_at).join(Call, ReviewAssignment.call_pk == Call.id)).all()
    return {call_id: (monitor, reason, done is not None) for call_id, monitor, reason, done in rows}


def _queue(browser: Browser) -> set[str]:
    page = browser.get("/worklist?queue=mine")
    assert page.status_code == 200
    return listed_calls(page.text)


def _done_message(response) -> str:
    assert response.status_code == 303 and response.headers["location"].startswith("/assign?done=")
    return unquote_plus(response.headers["location"].split("done=", 1)[1])


def test_flagged_calls_evenly_each_monitor_sees_exactly_theirs(center, browser) -> None:
    lead = browser("lead")
    assert all(f'value="{m}"' in lead.get("/assign").text for m in MONITORS)
    message = _done_message(lead.form("/assign/flagged", {"monitors": list(MONITORS), "how": "evenly"}))
    assert message == "assigned 5 flagged calls: monitor1 3, monitor2 2"
    given = _assignments(center)
    assert set(given) == FLAGGED and {reason for _, reason, _ in given.values()} == {"flagged"}
    per_monitor = Counter(monitor for monitor, _, _ in given.values())
    assert sorted(per_monitor.values()) == [2, 3]
    for name in MONITORS:
        assert _queue(browser(name)) == {c for c, (monitor, _, _) in given.items() if monitor == name}
    # Nothing is left to give.
    again = lead.form("/assign/flagged", {"monitors": list(MONITORS), "how": "evenly"})
    assert again.status_code == 400 and "no calls to assign" in again.text
    assert _assignments(center) == given


def test_flagged_calls_n_each_worst_first_never_twice(center, browser) -> None:
    lead = browser("lead")
    message = _done_message(lead.form("/assign/flagged", {"monitors": list(MONITORS), "how": "each", "each": "1"}))
    assert message == "assigned 2 flagged calls: monitor1 1, monitor2 1"
    first = _assignments(center)
    assert set(first) == {"C06", "C01"}  # the two worst: 70 and 75
    _done_message(lead.form("/assign/flagged", {"monitors": list(MONITORS), "how": "each", "each": "1"}))
    second = _assignments(center)
    assert len(second) == 4 and {c: second[c] for c in first} == first
    for name in MONITORS:
        assert len(_queue(browser(name))) == 2
    refused = lead.form("/assign/flagged", {"monitors": ["trainer"], "how": "evenly"})
    assert refused.status_code == 400 and "not an active monitor: trainer" in refused.text


def _seed_week(database, rulebook) -> None:
    """The calls of `WEEK`, S01 given to monitor2 already."""
    with database.transaction() as session:
        seed_call_rows(session, rulebook, WEEK)
    with database.transaction() as session:
        session.add(ReviewAssignment(call_pk=stored_call(session, "S01").id, monitor="monitor2", reason="sample",
                                     assigned_by="lead", assigned_at=utcnow()))


def _sample(lead: Browser, percent: float) -> str:
    return _done_message(lead.form("/assign/sample", {"monitors": list(MONITORS), "week_of": "2026-11-05",
                                                      "percent": f"{percent:g}"}))


def _sampled(database) -> set[str]:
    return {c for c, (_, reason, _) in _assignments(database).items() if reason == "sample"} - {"S01"}


def test_a_sample_of_unflagged_calls_per_agent_reproducible(center, center_template, rulebook, web_settings, backend,
                                                            tmp_path) -> None:
    _seed_week(center, rulebook)
    settings = replace(web_settings, sample_percent=PERCENT)
    app = create_app(settings, center)
    client = TestClient(app, follow_redirects=False)
    lead = Browser(client, logged_in(client, "lead"))
    assert f'name="percent" min="0.1" max="100" step="0.1" value="{PERCENT}"' in lead.get("/assign").text
    _sample(lead, settings.sample_percent)
    sampled = _sampled(center)
    wanted = {agent: math.ceil(len(calls) * PERCENT / 100) for agent, calls in CANDIDATES.items()}
    assert wanted == {"A03": 2, "A07": 1}
    for agent, calls in CANDIDATES.items():
        assert len(sampled & calls) == wanted[agent]
    assert sampled <= set().union(*CANDIDATES.values())  # clean, of that week, not given before
    assert _assignments(center)["S01"] == ("monitor2", "sample", False)

    # The same data elsewhere gives the same sample.
    with temporary_database(backend, tmp_path / "second") as second:
        copy_rows(center_template, second)
        _seed_week(second, rulebook)
        other = TestClient(create_app(replace(settings, db_url=second.url), second), follow_redirects=False)
        _sample(Browser(other, logged_in(other, "lead")), PERCENT)
        assert _sampled(second) == sampled

    # A second sample of the week never takes a call given already.
    _sample(lead, PERCENT)
    later = _sampled(center) - sampled
    assert later and not later & sampled and later <= set().union(*CANDIDATES.values())


def test_deciding_the_last_open_finding_finishes_the_call(center, browser) -> None:
    lead, monitor = browser("lead"), browser("monitor1")
    _done_message(lead.form("/assign/flagged", {"monitors": ["monitor1"], "how": "evenly"}))
    assert _queue(monitor) == FLAGGED
    with center.session() as session:
        findings = [f.id for f in stored_call(session, "C01").findings]
    assert len(findings) == 2
    context = "queue=mine"
    first = monitor.form(f"/findings/{findings[0]}/review", {"decision": "confirm", "context": context})
    assert first.headers["location"] == f"/calls/C01?{context}#finding-{findings[0]}"
    assert "C01" in _queue(monitor)  # one finding still open
    assert monitor.api(f"/api/findings/{findings[1]}/review", {"decision": "overturn"}).status_code == 200
    assert _queue(monitor) == FLAGGED - {"C01"}
    assert _assignments(center)["C01"] == ("monitor1", "flagged", True)
    # Or by saying so: the done button.
    done = monitor.form("/calls/C02/done")
    assert done.status_code == 303 and done.headers["location"] == "/calls/C02/next?queue=mine"
    assert _queue(monitor) == FLAGGED - {"C01", "C02"}
    with center.session() as session:
        assert finding_of(session, "C02", "greeting").status == FindingStatus.OPEN  # done is not a decision
