"""The what-if preview over HTTP: the API answering at once, the job the editor page starts and
polls, the shapes, malformed drafts, CSRF and who may."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from qcpipe.scoring import DEFAULT_RULEBOOK
from qcpipe.store.models import Call, FindingRecord
from tests.helpers.web import ROLE_USER

DEFAULT_YAML = DEFAULT_RULEBOOK.read_text(encoding="utf-8")
GREETING_AT_5 = "    deduction: 5\n    role: agent\n    # The first agent turn"
DEARER_GREETING = DEFAULT_YAML.replace(GREETING_AT_5, GREETING_AT_5.replace("5", "8", 1))
OCTOBER = "date_from=2026-10-01&date_to=2026-10-31"
KEYS = {"calls_scored", "calls_changed", "findings_added", "findings_removed", "per_check", "agents_changed"}
YAML = {"Content-Type": "application/yaml"}


def post_yaml(user, body: str, query: str = OCTOBER):
    return user.client.post(f"/api/rulebooks/preview?{query}", content=body.encode("utf-8"),
                            headers={**YAML, "X-CSRF-Token": user.csrf})


def stored(center) -> tuple:
    with center.session() as session:
        return (sorted(session.execute(select(Call.call_id, Call.qa_score)).all()),
                session.scalar(select(func.count()).select_from(FindingRecord)))


def test_the_api_answers_the_difference_and_saves_nothing(browser, center) -> None:
    before = stored(center)
    response = post_yaml(browser("lead"), DEARER_GREETING)
    assert response.status_code == 200, response.text
    body = response.json()
    assert KEYS <= set(body)
    # October: C01, C02, C03, C05, C06 (C04 is September's); the greeting misses of C01, C02, C06 cost 3 more.
    counts = (body["calls_scored"], body["calls_changed"], body["findings_added"], body["findings_removed"])
    assert counts == (5, 3, 0, 0)
    assert body["per_check"] == {}
    agents = {a["agent_id"]: (a["score_before"], a["score_after"]) for a in body["agents_changed"]}
    assert agents == {"A03": (85.0, 84.0), "A07": (80.0, 77.0)}  # A07 in October: C02 90, C06 70
    assert all(set(a) >= {"agent_id", "score_before", "score_after"} for a in body["agents_changed"])
    assert {c["call_id"] for c in body["calls"]} == {"C01", "C02", "C06"}
    assert stored(center) == before


def test_per_check_has_counts_and_quotes(browser) -> None:
    added = DEFAULT_YAML.replace("      # --- 推诿: pushing the caller away",
                                 "      - phrase: 上门检修\n      # --- 推诿: pushing the caller away")
    body = post_yaml(browser("admin"), added, "date_from=2026-09-01&date_to=2026-10-31").json()
    check = body["per_check"]["forbidden_phrase"]
    assert (check["added"], check["removed"]) == (4, 0)  # C01–C04 say 师傅明天上午上门检修
    assert all("上门检修" in e["quote"] and e["call_id"] in {"C01", "C02", "C03", "C04"}
               for e in check["added_examples"])


def test_a_malformed_draft_is_refused_naming_the_line(browser) -> None:
    lead = browser("lead")
    broken = DEARER_GREETING.replace("    deduction: 8\n", "    deduction: [8\n", 1)
    response = post_yaml(lead, broken)
    assert response.status_code == 422
    assert "line" in response.json()["detail"] and response.json()["error"]["line"]
    unknown_field = DEFAULT_YAML.replace("    deduction: 5\n", "    deductoin: 5\n", 1)
    response = post_yaml(lead, unknown_field)
    assert response.status_code == 422 and response.json()["error"]["line"]
    assert post_yaml(lead, DEARER_GREETING, "date_from=2026-10-31&date_to=2026-10-01").status_code == 400
    assert post_yaml(lead, DEARER_GREETING, "date_from=yesterday").status_code == 422


def test_without_the_csrf_header_it_is_refused(browser) -> None:
    lead = browser("lead")
    response = lead.client.post(f"/api/rulebooks/preview?{OCTOBER}", content=DEARER_GREETING.encode(), headers=YAML)
    assert response.status_code == 403
    assert lead.client.post("/rulebook/preview", json={"yaml": DEARER_GREETING}).status_code == 403


@pytest.mark.parametrize("role", ["agent", "team_leader", "trainer", "monitor"])
def test_only_those_who_edit_rules_may_preview(browser, role) -> None:
    user = browser(ROLE_USER[role])
    assert post_yaml(user, DEARER_GREETING).status_code == 403
    assert user.api("/rulebook/preview", {"yaml": DEARER_GREETING}).status_code == 403
    assert user.get("/rulebook/preview/nothing").status_code == 403


def wait_for(user, job_id: str) -> dict:
    for _ in range(600):
        body = user.get(f"/rulebook/preview/{job_id}").json()
        if body["state"] != "running":
            return body
        time.sleep(0.1)
    raise AssertionError("the preview job did not end")


def test_the_page_starts_a_job_and_polls_it_to_the_same_answer(browser) -> None:
    lead = browser("lead")
    started = lead.api("/rulebook/preview", {"yaml": DEARER_GREETING, "date_from": "2026-10-01",
                                             "date_to": "2026-10-31"})
    assert started.status_code == 202, started.text
    job = wait_for(lead, started.json()["job"])
    assert (job["state"], job["done"], job["total"]) == ("done", 5, 5)
    assert job["result"] | {"wall_s": 0} == post_yaml(lead, DEARER_GREETING).json() | {"wall_s": 0}
    # The form of a page without scripts starts the same job.
    form = lead.form("/rulebook/preview", {"yaml": DEARER_GREETING, "date_from": "2026-10-01", "date_to": "2026-10-31"})
    assert form.status_code == 202 and wait_for(lead, form.json()["job"])["result"]["calls_changed"] == 3


def test_a_job_is_its_starters_only(browser) -> None:
    lead, admin = browser("lead"), browser("admin")
    job_id = lead.api("/rulebook/preview", {"yaml": DEARER_GREETING}).json()["job"]
    assert admin.get(f"/rulebook/preview/{job_id}").status_code == 404
    wait_for(lead, job_id)


def test_a_malformed_draft_starts_no_job(browser) -> None:
    response = browser("lead").api("/rulebook/preview", {"yaml": "version: 1\nname: x\nchecks: []\n"})
    assert response.status_code == 422 and response.json()["error"]["line"]
    assert browser("lead").api("/rulebook/preview", {"date_from": "2026-10-01"}).status_code == 422
