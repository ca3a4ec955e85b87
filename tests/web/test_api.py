"""The JSON API's shapes: the call list (flagged or all, filters, pages), one call, who I am, and
the OpenAPI document of the /api paths."""

from __future__ import annotations

from datetime import datetime

import pytest

from qcpipe.web import api
from tests.helpers.web import CALLS

FLAGGED = {"C01", "C02", "C04", "C05", "C06"}
SCORES = {"C01": 75.0, "C02": 90.0, "C03": 100.0, "C04": 95.0, "C05": 80.0, "C06": 70.0}


def test_the_call_list_all_or_flagged(browser) -> None:
    monitor = browser("monitor1")
    everything = monitor.get("/api/calls").json()
    assert set(everything) == {"items", "total", "page", "pages"}
    assert (everything["total"], everything["page"], everything["pages"]) == (len(CALLS), 1, 1)
    items = everything["items"]
    assert set(items[0]) == {"call_id", "agent_id", "team", "started_at", "score", "open_findings", "uncertain_findings"}
    assert {i["call_id"]: i["score"] for i in items} == SCORES
    assert [i["score"] for i in items] == sorted(SCORES.values())  # worst first
    c01 = next(i for i in items if i["call_id"] == "C01")
    assert (c01["agent_id"], c01["team"], c01["open_findings"]) == ("A03", "一组", 2)
    assert datetime.fromisoformat(c01["started_at"]).date().isoformat() == "2026-10-08"
    flagged = monitor.get("/api/calls?flagged=true").json()
    assert {i["call_id"] for i in flagged["items"]} == FLAGGED and flagged["total"] == len(FLAGGED)
    assert all(i["open_findings"] > 0 for i in flagged["items"])
    assert monitor.get("/api/calls?flagged=false").json()["total"] == len(CALLS)
    # Filters.
    assert {i["call_id"] for i in monitor.get("/api/calls?team=二组").json()["items"]} == {"C02", "C04", "C06"}
    assert {i["call_id"] for i in monitor.get("/api/calls?agent=A03&flagged=true").json()["items"]} == {"C01", "C05"}
    assert {i["call_id"] for i in monitor.get("/api/calls?date_from=2026-10-09&date_to=2026-10-12").json()["items"]} \
        == {"C02", "C03", "C05"}
    assert {i["call_id"] for i in monitor.get("/api/calls?rule=closing").json()["items"]} == {"C02", "C06"}
    assert monitor.get("/api/calls?page=0").status_code == 422
    assert monitor.get("/api/calls?date_from=yesterday").status_code == 422


def test_the_call_list_in_pages(browser, monkeypatch) -> None:
    monkeypatch.setattr(api, "API_PAGE_SIZE", 4)
    monitor = browser("monitor1")
    first, second = monitor.get("/api/calls").json(), monitor.get("/api/calls?page=2").json()
    assert (first["total"], first["pages"], len(first["items"]), first["page"]) == (6, 2, 4, 1)
    assert (second["total"], second["pages"], len(second["items"]), second["page"]) == (6, 2, 2, 2)
    assert [i["call_id"] for i in first["items"] + second["items"]] == \
        [i["call_id"] for i in sorted(({"call_id": c, "score": s} for c, s in SCORES.items()), key=lambda i: i["score"])]
    beyond = monitor.get("/api/calls?page=3").json()
    assert beyond["items"] == [] and beyond["total"] == 6


def test_one_call(browser) -> None:
    body = browser("monitor1").get("/api/calls/C01").json()
    assert set(body) == {"call_id", "agent_id", "team", "started_at", "duration_s", "score", "segments", "findings",
                         "not_applicable", "unheard", "unheard_agent_s", "stats"}
    # The scripted turns are the timeline, read as padded by the stored ASR settings' 0.4 s a side.
    stats = body["stats"]
    assert (stats["agent_talk_s"], stats["customer_talk_s"], stats["overlaps"]) == (8.6, 2.4, 0)
    assert (stats["silence_s"], stats["longest_silence_s"]) == (5.2, 1.3)
    assert 200 < stats["agent_chars_per_min"] < 300
    assert (body["unheard"], body["unheard_agent_s"]) == ([], 0.0)
    assert (body["call_id"], body["agent_id"], body["team"], body["score"], body["duration_s"]) == \
        ("C01", "A03", "一组", 75.0, 17.0)
    assert [s["role"] for s in body["segments"]] == ["agent", "customer", "agent", "customer", "agent"]
    assert set(body["segments"][0]) == {"role", "start", "end", "text"}
    assert body["segments"][0] == {"role": "agent", "start": 0.0, "end": 4.0, "text": CALLS["C01"][2][0][3]}
    assert {f["rule_id"] for f in body["findings"]} == {"greeting", "forbidden_phrase"}
    finding = next(f for f in body["findings"] if f["rule_id"] == "forbidden_phrase")
    assert set(finding) == {"id", "rule_id", "title", "start", "end", "quote", "deduction", "status", "version",
                            "match_kind", "speaker", "doubt"}
    assert (finding["status"], finding["version"], finding["speaker"], finding["doubt"]) == ("open", 1, "agent", None)
    assert "这不关我的事" in finding["quote"] and finding["deduction"] == 20
    assert all(set(n) == {"rule_id", "reason"} for n in body["not_applicable"])
    assert browser("monitor1").get("/api/calls/C99").status_code == 404


def test_me(browser) -> None:
    assert browser("agent03").get("/api/me").json() == {
        "username": "agent03", "role": "agent", "agent_id": "A03", "team": None, "permissions": ["appeal", "own_scorecard", "see_calls"]}
    assert browser("leader1").get("/api/me").json()["team"] == "一组"


def test_the_openapi_document_lists_the_api_and_needs_a_login(client, browser) -> None:
    assert client.get("/api/openapi.json").status_code == 401
    document = browser("agent03").get("/api/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert set(paths) == {
        "/api/me", "/api/calls", "/api/calls/{call_id}", "/api/calls/{call_id}/audio",
        "/api/findings/{finding_id}/review", "/api/findings/{finding_id}/appeal", "/api/appeals/{appeal_id}/ruling",
        "/api/reports/monthly", "/api/rulebooks/preview",
    }
    assert set(paths["/api/findings/{finding_id}/review"]) == {"post"}
    for public in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(public).status_code == 404


@pytest.mark.parametrize("path", ["/api/calls", "/api/me", "/api/calls/C01"])
def test_the_api_answers_401_json_without_a_session(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 401 and response.json() == {"detail": "log in first"}
