"""The rulebook editor: the checks in force, validating and trying a draft, publishing a version
and the re-scoring it starts, the version history, and who may do what."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import select

from qcpipe.scoring import DEFAULT_RULEBOOK
from qcpipe.store.models import AuditEvent, FindingStatus
from qcpipe.web.monthly import FLAG_TITLES
from tests.helpers.web import Browser, finding_of, stored_call

SHIPPED = DEFAULT_RULEBOOK.read_text(encoding="utf-8")
WHATIF_ANCHORS = (
    '<input type="date" id="whatif-from"', '<input type="date" id="whatif-to"',
    '<button type="button" id="preview-button">预览影响 · preview</button>', '<section id="whatif" data-flag-titles=',
    '<script src="/static/whatif.js" defer></script>',
)


def with_deduction(text: str, check_id: str, old: float, new: float) -> str:
    """The rulebook text with `check_id`'s deduction changed from `old` to `new`."""
    start = text.index(f"- id: {check_id}\n")
    at = text.index(f"deduction: {old:g}\n", start)
    return text[:at] + f"deduction: {new:g}\n" + text[at + len(f"deduction: {old:g}\n"):]


def finished(browser: Browser, location: str) -> dict:
    """Follow the re-scoring job a publish redirected to until it ends; its last JSON."""
    job_id = re.search(r"job=([\w-]+)", location).group(1)
    deadline = time.monotonic() + 60
    while True:
        job = browser.get(f"/rulebook/jobs/{job_id}").json()
        if job["state"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def _score(center, call_id: str) -> float:
    with center.session() as session:
        return stored_call(session, call_id).qa_score


@pytest.mark.parametrize("name", ["lead", "admin"])
def test_the_editor_shows_the_checks_in_force_and_the_yaml(browser, name) -> None:
    page = browser(name).get("/rulebook")
    assert page.status_code == 200
    html = page.text
    assert "尚未发布版本" in html and 'name="base_number" value="0"' in html
    for check_id in ("greeting", "forbidden_phrase", "complaint.apology", "raised_voice"):
        assert f'data-check-id="{check_id}"' in html
    assert "标准开场白" in html and "−20" in html and "hold_notices" in html  # a title, a deduction, a phrase set
    # the meaning models that read too: the 禁语 check's own, the complaint checks' trigger's
    in_row = r"(?:(?!data-check-id).)*?"  # within the check's own row
    assert re.search(r'data-check-id="forbidden_phrase">' + in_row + "释义 meaning forbidden-meaning ≥ 0.75", html, re.S)
    assert re.search(r'data-check-id="complaint\.record">' + in_row + "释义 meaning complaint-meaning ≥ 0.80", html, re.S)
    assert not re.search(r'data-check-id="greeting">' + in_row + "释义 meaning", html, re.S)
    assert '<textarea id="rulebook-yaml" name="yaml"' in html and "kind: required_phrases" in html
    for anchor in WHATIF_ANCHORS:
        assert anchor in html
    # The panel names the flags as the monthly page does, all three of them.
    titles = json.loads(re.search(r"data-flag-titles='([^']*)'", html).group(1))
    assert titles == {str(flag): title for flag, title in FLAG_TITLES.items()} and len(titles) == 3


def test_validate_names_the_line_of_an_error(browser) -> None:
    lead = browser("lead")
    good = lead.api("/rulebook/check", {"yaml": SHIPPED}).json()
    assert good["ok"] and len(good["checks"]) == 13 and good["checks"][0]["id"] == "greeting"
    bad_text = SHIPPED.replace("deduction: 20", "deduction: 200", 1)
    line = SHIPPED[: SHIPPED.index("deduction: 20")].count("\n") + 1
    bad = lead.api("/rulebook/check", {"yaml": bad_text}).json()
    assert not bad["ok"] and bad["error"]["line"] == line and f"line {line}" in bad["error"]["message"]
    broken = lead.api("/rulebook/check", {"yaml": "version: 1\nname: x\nchecks: [\n"}).json()
    assert not broken["ok"] and broken["error"]["line"]


def test_try_a_sentence_against_the_draft(browser) -> None:
    lead = browser("lead")
    heard = lead.api("/rulebook/try", {"yaml": SHIPPED, "text": "喂，这不关我的数"}).json()
    best = heard["matches"][0]
    assert heard["ok"] and best["rule_id"] == "forbidden_phrase" and best["phrase"] == "这不关我的事"
    assert best["match_kind"] == "pinyin" and best["counts"] and 0 < best["score"] < 1
    customer = lead.api("/rulebook/try", {"yaml": SHIPPED, "text": "这不关我的事", "role": "customer"}).json()
    assert customer["matches"] and not customer["matches"][0]["counts"]
    # The draft, not the rulebook in force: a new 禁语 matches at once.
    draft = SHIPPED.replace("      - phrase: 这不关我的事\n", "      - 我们这儿不卖保险\n      - phrase: 这不关我的事\n", 1)
    assert draft != SHIPPED
    before = lead.api("/rulebook/try", {"yaml": SHIPPED, "text": "我们这儿不卖保险"}).json()
    after = lead.api("/rulebook/try", {"yaml": draft, "text": "我们这儿不卖保险"}).json()
    assert not before["matches"] and after["matches"][0]["match_kind"] == "exact"
    # The meaning model's reading of a 禁语 in words no list holds.
    read = lead.api("/rulebook/try", {"yaml": SHIPPED, "text": "你自己不按时交费，还好意思来问？"}).json()
    assert not read["matches"] and [(r["sentence"], r["raised"]) for r in read["readings"]
                                    if r["rule_id"] == "forbidden_phrase"] == [("你自己不按时交费还好意思来问", True)]
    polite = lead.api("/rulebook/try", {"yaml": SHIPPED, "text": "请您说大点声好吗"}).json()
    assert not polite["matches"] and polite["taken_back"][0]["why"] == "a polite request (请 before it)"


def test_publishing_makes_a_version_and_rescores_keeping_decisions(center, browser) -> None:
    with center.session() as session:
        confirmed = finding_of(session, "C02", "greeting").id
        overturned = finding_of(session, "C04", "greeting").id
    monitor = browser("monitor1")
    assert monitor.form(f"/findings/{confirmed}/review", {"decision": "confirm", "version": "1"}).status_code == 303
    assert monitor.form(f"/findings/{overturned}/review", {"decision": "overturn", "version": "1",
                                                            "comment": "说了"}).status_code == 303
    assert (_score(center, "C01"), _score(center, "C02"), _score(center, "C04")) == (75, 90, 100)

    lead = browser("lead")
    draft = with_deduction(SHIPPED, "greeting", 5, 8).replace("\n", "\r\n")  # as a browser's form sends it
    response = lead.form("/rulebook/publish", {"yaml": draft, "base_number": "0", "comment": "问候语扣 8 分"})
    assert response.status_code == 303 and response.headers["location"].startswith("/rulebook?published=2&job=")
    page = lead.get(response.headers["location"]).text
    assert 'id="rescore"' in page and "第 2 版" in page
    job = finished(lead, response.headers["location"])
    assert job["state"] == "done", job
    assert job["result"]["version"] == 2 and job["result"]["calls"] == 6 and job["done"] == job["total"] == 6

    # C01: greeting −8, forbidden −20; C02: greeting (confirmed) −8, closing −5; C04: overturned, no deduction.
    assert (_score(center, "C01"), _score(center, "C02"), _score(center, "C04")) == (72, 87, 100)
    with center.session() as session:
        kept = finding_of(session, "C02", "greeting")
        assert (kept.id, kept.status, kept.deduction) == (confirmed, FindingStatus.CONFIRMED, 8)
        assert finding_of(session, "C04", "greeting").status == FindingStatus.OVERTURNED
        hashes = {f.rulebook_hash for f in stored_call(session, "C01").findings}
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "rulebook.publish")))
    assert len(hashes) == 1 and [e.actor for e in events] == ["lead"]

    editor = lead.get("/rulebook").text
    assert 'name="base_number" value="2"' in editor and "第 2 版" in editor and "问候语扣 8 分" in editor
    assert re.search(r'data-check-id="greeting">.*?−8</td>', editor, re.S)
    listing = lead.get("/rulebook/versions").text
    assert 'data-version="2"' in listing and 'data-version="1"' in listing and hashes.pop()[:12] in listing
    version = lead.get("/rulebook/versions/2").text
    assert 'class="diff-del">-    deduction: 5' in version and 'class="diff-add">+    deduction: 8' in version
    assert 'id="version-yaml" readonly' in version
    assert "发布前在用的规则文件" in lead.get("/rulebook/versions/1").text
    assert lead.get("/rulebook/versions/9").status_code == 404


def test_refused_publishes_say_why_and_change_nothing(center, browser) -> None:
    lead = browser("lead")
    bad = SHIPPED.replace("kind: required_phrases", "kind: required_phrase", 1)
    line = SHIPPED[: SHIPPED.index("kind: required_phrases")].count("\n") + 1
    refused = lead.form("/rulebook/publish", {"yaml": bad, "base_number": "0", "comment": "typo"})
    assert refused.status_code == 400 and f"line {line}" in refused.text and f'data-line="{line}"' in refused.text
    assert "kind: required_phrase\n" in refused.text  # the draft is kept in the textarea

    unchanged = lead.form("/rulebook/publish", {"yaml": SHIPPED, "base_number": "0", "comment": "same"})
    assert unchanged.status_code == 400 and "没有改动" in unchanged.text

    first = lead.form("/rulebook/publish", {"yaml": with_deduction(SHIPPED, "greeting", 5, 8), "base_number": "0",
                                            "comment": "first"})
    assert first.status_code == 303
    finished(lead, first.headers["location"])
    stale = browser("admin").form("/rulebook/publish", {"yaml": with_deduction(SHIPPED, "closing", 5, 9),
                                                        "base_number": "0", "comment": "second"})
    assert stale.status_code == 409 and "version 2 was published by lead" in stale.text
    assert 'data-version="3"' not in lead.get("/rulebook/versions").text


def test_no_token_or_no_permission_is_refused(center, client, browser, logged_in) -> None:
    logged_in(client, "lead")
    body = {"yaml": with_deduction(SHIPPED, "greeting", 5, 8), "base_number": "0", "comment": "no token"}
    assert client.post("/rulebook/publish", data=body).status_code == 403
    assert client.post("/rulebook/check", json={"yaml": SHIPPED}).status_code == 403
    monitor = browser("monitor1")
    assert monitor.get("/rulebook").status_code == 403
    assert monitor.form("/rulebook/publish", body).status_code == 403
    assert monitor.api("/rulebook/try", {"yaml": SHIPPED, "text": "您好"}).status_code == 403
    assert browser("admin").get("/rulebook/versions").status_code == 200
    assert 'data-version' not in browser("lead").get("/rulebook/versions").text


def test_another_person_s_job_is_not_found(browser) -> None:
    lead = browser("lead")
    published = lead.form("/rulebook/publish", {"yaml": with_deduction(SHIPPED, "greeting", 5, 8),
                                                "base_number": "0", "comment": "mine"})
    job_id = re.search(r"job=([\w-]+)", published.headers["location"]).group(1)
    assert browser("admin").get(f"/rulebook/jobs/{job_id}").status_code == 404
    assert finished(lead, published.headers["location"])["state"] == "done"
