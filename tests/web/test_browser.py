"""The web workspace in a real browser: Debian's Chromium driven by Playwright, against a live
server over a SQLite database (the server-side tests cover PostgreSQL).

The seeded center: dev-corpus calls stored with their labelled turns (so the transcript is what
the recording says) and scored by the default rulebook, each pointing at a copy of its real
stereo recording; one scripted call whose transcript holds markup. Scores as seeded:

    call     agent  recording     findings                                        score
    D110053  A07    mp3,  29.9 s  greeting, closing, forbidden ×2                 50
    D110062  A04    flac, 59.8 s  closing, forbidden ×2                           55
    D110000  A08    flac, 33.1 s  forbidden ×2                                    60
    D110028  A03    wav,  55.4 s  greeting, closing, wait_apology, forbidden      67
    D110052  A03    flac, 53.3 s  greeting, forbidden                             75
    X000001  A07    wav,  25.8 s  forbidden; its transcript holds <script>, <img>  80
    D110023  A03    wav,  22.3 s  greeting, closing                               90
    D110001  A05    wav,  27.7 s  none (clean: not in the monitor's worklist)     100

Accounts: the monitor 李质检, the agents A03 and A07. Each test gets its own copy of the seeded
database and its own server; Chromium is started once for the module. Screenshots are also
copied to /tmp/qcpipe-shots/ to be looked at.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the `chromium` fixture (tests/web/conftest.py)
    expect = None

from qcpipe.asr.audio import file_sha256
from qcpipe.config import Settings
from qcpipe.store import Call, Database
from qcpipe.store.models import User, UserRole
from qcpipe.web import create_app
from tests.helpers.browser import live_server, log_in
from tests.helpers.calls import dev_label
from tests.helpers.databases import copy_rows, temporary_database
from tests.helpers.paths import DEV_CORPUS
from tests.helpers.rows import seed_call
from tests.helpers.web import cheap_hash

pytestmark = pytest.mark.browser

PASSWORD = "pass-word-2026"
MONITOR = "李质检"
USERS = {MONITOR: (UserRole.MONITOR, None, None), "A03": (UserRole.AGENT, "A03", "一组"),
         "A07": (UserRole.AGENT, "A07", "二组")}
LABELLED = ("D110053", "D110062", "D110000", "D110028", "D110052", "D110023", "D110001")
XSS = "X000001"
SCRIPT = "<script>window.__xss = 1</script>"
IMG = '<img src="/nowhere.png" onerror="window.__xss = 2">'
XSS_TURNS = [
    ["agent", 1.0, 6.0, "您好，欢迎致电畅联通信，请问有什么可以帮您？"],
    ["customer", 6.5, 10.0, f"{SCRIPT}我家宽带断了"],
    ["agent", 10.5, 14.0, f"{IMG}这不关我的事"],
    ["agent", 20.0, 24.0, "感谢您的来电，再见"],
]
SHOTS = Path("/tmp/qcpipe-shots")


@dataclass
class Center:
    db: Database
    calls: dict[str, Call]  # as seeded: call_id → the stored call with its findings

    def score(self, call_id: str) -> float | None:
        with self.db.session() as session:
            return session.scalars(select(Call.qa_score).where(Call.call_id == call_id)).one()

    def statuses(self, call_id: str) -> dict[int, str]:
        with self.db.session() as session:
            call = session.scalars(select(Call).where(Call.call_id == call_id)).one()
            return {f.id: f.status for f in call.findings}


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded_template(tmp_path_factory, rulebook) -> Iterator[tuple[Database, dict[str, Call]]]:
    """The seeded center in SQLite, once per module, its recordings copied beside it."""
    folder = tmp_path_factory.mktemp("recorded")
    with temporary_database("sqlite", folder) as database:
        calls = {}
        with database.transaction() as session:
            for call_id in LABELLED:
                label = dev_label(call_id)
                turns = [[t["role"], t["start"], t["end"], t["text"]] for t in label["turns"]]
                call = seed_call(session, turns, call_id=call_id, agent=label["agent_id"], team=label["team"],
                                 agent_name=label["agent_name"], started_at=label["started_at"],
                                 queue_wait_s=label["queue_wait_s"], rulebook=rulebook)
                calls[call_id] = _recorded(call, DEV_CORPUS / label["audio"], folder)
            xss = seed_call(session, XSS_TURNS, call_id=XSS, agent="A07", team="二组", started_at="2026-10-20",
                            rulebook=rulebook)
            calls[XSS] = _recorded(xss, DEV_CORPUS / "audio" / "D110057.wav", folder)
            password_hash = cheap_hash(PASSWORD)  # logins in milliseconds (see tests/web/conftest.py)
            for name, (role, agent_code, team) in USERS.items():
                session.add(User(username=name, role=role, agent_code=agent_code, team=team,
                                 password_hash=password_hash, disabled=False))
        yield database, calls


def _recorded(call: Call, recording: Path, folder: Path) -> Call:
    """Point a seeded call at a copy of a real recording, as the pipeline stores it."""
    copy = folder / f"{call.call_id}{recording.suffix}"
    shutil.copyfile(recording, copy)
    call.audio_path, call.content_hash = str(copy), file_sha256(copy)
    return call


@pytest.fixture
def recorded(sqlite_db: Database, recorded_template) -> Center:
    """This test's own copy of the seeded center (SQLite only: the server-side tests cover PostgreSQL)."""
    template, calls = recorded_template
    copy_rows(template, sqlite_db)
    return Center(sqlite_db, calls)


@pytest.fixture
def base(recorded: Center) -> Iterator[str]:
    """The live server's base URL (QCPIPE_HOME, where converted audio is cached, is the test's:
    tests/web/conftest.py)."""
    with live_server(create_app(Settings(db_url=recorded.db.url), store=recorded.db)) as url:
        yield url


@pytest.fixture
def context(chromium) -> Iterator:
    ctx = chromium.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    try:
        yield ctx
    finally:
        ctx.close()


def _page(context, errors: list[str] | None = None):
    """A new page; console errors and uncaught exceptions go to `errors` when given."""
    page = context.new_page()
    page.set_default_timeout(10_000)
    if errors is not None:
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    return page


def _finding(recorded: Center, call_id: str, rule_id: str, nth: int = 0):
    return [f for f in recorded.calls[call_id].findings if f.rule_id == rule_id][nth]


def _audio(page, expression: str):
    return page.evaluate(f"(() => {{ const a = document.getElementById('call-audio'); return {expression}; }})()")


def _until(page, expression: str, timeout_s: float = 10.0) -> None:
    """Wait until `expression` is true in the page (Playwright's wait_for_function evaluates text,
    which the pages' CSP, rightly, refuses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout_s} s: {expression}")
        time.sleep(0.05)


def _wait_metadata(page) -> None:
    _until(page, "document.getElementById('call-audio').readyState >= 1")


# --- tests -------------------------------------------------------------------------------------


def test_log_in_and_see_the_worklist_worst_first(context, base: str, recorded: Center) -> None:
    page = _page(context)
    page.goto(base + "/worklist")
    assert re.search(r"/login\?next=/worklist$", page.url)  # not logged in: sent to the form
    log_in(page, base, MONITOR, PASSWORD, path="/worklist")
    assert page.url == base + "/worklist"
    assert page.locator("header.top .who").inner_text().startswith(MONITOR)

    flagged = sorted((c for c in recorded.calls.values() if c.findings), key=lambda c: c.qa_score)
    shown = page.locator("#worklist tbody tr[data-call-id]")
    assert shown.evaluate_all("rows => rows.map(r => r.dataset.callId)") == [c.call_id for c in flagged]
    assert page.locator("#worklist td.score").all_inner_texts() == [f"{c.qa_score:g}" for c in flagged]
    counts = page.locator("#counts strong").all_inner_texts()
    assert counts == [str(len(flagged)), str(sum(len(c.findings) for c in flagged))]
    assert "D110001" not in page.locator("#worklist").inner_text()  # clean: nothing to review
    # Below the pass line (80) in red; the call opens from its row.
    assert page.locator("tr.below").count() == sum(c.qa_score < 80 for c in flagged)
    with page.expect_navigation():
        page.click(f"#worklist a:text-is('{flagged[0].call_id}')")
    assert page.url.startswith(f"{base}/calls/{flagged[0].call_id}")


def test_a_finding_seeks_the_player_and_lights_its_words(context, base: str, recorded: Center) -> None:
    finding = _finding(recorded, "D110028", "forbidden_phrase")
    page = _page(context)
    log_in(page, base, MONITOR, PASSWORD, path="/calls/D110028")
    article = page.locator(f"article[data-finding-id='{finding.id}']")
    start = float(article.get_attribute("data-start"))
    assert start == pytest.approx(finding.start_s) and 0 < start < 55.4

    article.locator("q[data-seek]").click()  # the quote (its first quote mark: where Playwright clicks)
    assert abs(_audio(page, "a.currentTime") - start) < 0.5
    lit = page.locator(".utterance .w.lit").all_inner_texts()
    assert "".join(lit) == finding.quote == "我是新手"
    assert page.locator(".utterance.lit").count() == 1
    assert "selected" in article.get_attribute("class")

    # The time link of a finding spanning several lines: each of the agent's lines it quotes is lit.
    other = _finding(recorded, "D110028", "closing")
    page.locator(f"article[data-finding-id='{other.id}'] a[data-seek]").click()
    assert abs(_audio(page, "a.currentTime") - other.start_s) < 0.5
    lit = "".join(page.locator(".utterance .w.lit").all_inner_texts())
    assert len(other.quote.split()) == 5 and all(line in lit for line in other.quote.split())


def test_overturning_a_finding_recomputes_the_score(context, base: str, recorded: Center) -> None:
    finding = _finding(recorded, "D110062", "forbidden_phrase")
    before = recorded.calls["D110062"].qa_score
    page = _page(context)
    log_in(page, base, MONITOR, PASSWORD, path="/calls/D110062")
    assert page.locator("#call-score").inner_text() == f"{before:g}"
    article = page.locator(f"article[data-finding-id='{finding.id}']")
    article.locator("input[name=comment]").fill("客户先骂人，坐席是在解释")
    article.locator("button[data-decision=overturn]").click()

    after = before + finding.deduction
    expect(page.locator("#call-score")).to_have_text(f"{after:g}")
    assert recorded.score("D110062") == after
    assert "overturned" in article.locator("[data-status]").inner_text()
    assert "status-overturned" in article.get_attribute("class")
    # The keys go on working after the click: space plays, and does not click the button again.
    page.keyboard.press(" ")
    _until(page, "!document.getElementById('call-audio').paused")

    page.reload()
    assert page.locator("#call-score").inner_text() == f"{after:g}"
    article = page.locator(f"article[data-finding-id='{finding.id}']")
    assert "已推翻 overturned" in article.locator("[data-status]").inner_text()
    history = article.locator("details.history")
    assert history.locator("summary").inner_text() == "记录 history (1)"  # one decision, not two
    assert "客户先骂人，坐席是在解释" in history.text_content()


def test_keyboard_review(context, base: str, recorded: Center) -> None:
    call = recorded.calls["D110028"]
    page = _page(context)
    log_in(page, base, MONITOR, PASSWORD, path="/calls/D110028")
    _wait_metadata(page)
    page.evaluate("window.__loaded = 1")  # gone if the page reloads
    assert "c 确认 · o 推翻" in page.locator(".keys").inner_text()
    articles = page.locator("article[data-finding-id]")
    shown = [int(i) for i in articles.evaluate_all("all => all.map(a => a.dataset.findingId)")]
    assert sorted(shown) == sorted(f.id for f in call.findings)  # in time order
    first, second = ({f.id: f for f in call.findings}[i] for i in shown[:2])

    page.keyboard.press("j")
    assert "selected" in articles.nth(0).get_attribute("class")
    assert abs(_audio(page, "a.currentTime") - first.start_s) < 0.5

    page.keyboard.press("c")
    expect(articles.nth(0).locator("[data-status]")).to_contain_text("confirmed")

    page.keyboard.press("j")
    assert "selected" in articles.nth(1).get_attribute("class")
    assert "selected" not in articles.nth(0).get_attribute("class")
    page.keyboard.press("o")
    expect(articles.nth(1).locator("[data-status]")).to_contain_text("overturned")
    assert page.evaluate("window.__loaded") == 1
    assert recorded.statuses("D110028")[first.id] == "confirmed"
    assert recorded.statuses("D110028")[second.id] == "overturned"
    assert page.locator("#call-score").inner_text() == f"{call.qa_score + second.deduction:g}"

    with page.expect_navigation():
        page.keyboard.press("n")
    assert page.url == f"{base}/calls/D110052"  # the next of the worklist (worst first)


def test_agent_appeals_and_sees_the_monitors_ruling(chromium, context, base: str, recorded: Center) -> None:
    finding = _finding(recorded, "D110053", "forbidden_phrase")
    before = recorded.calls["D110053"].qa_score
    agent = _page(context)
    log_in(agent, base, "A07", PASSWORD)
    assert agent.locator("h1").inner_text().startswith("我的通话")
    assert set(agent.locator("#worklist tr[data-call-id]").evaluate_all("rows => rows.map(r => r.dataset.callId)")) \
        == {"D110053", XSS}  # their own calls only
    agent.click("#worklist a:text-is('D110053')")
    article = agent.locator(f"article[data-finding-id='{finding.id}']")
    assert article.locator("form.decide").count() == 0  # an agent does not review
    assert "确认" not in agent.locator(".keys").inner_text()  # nor is told the review keys
    article.locator("input[name=reason]").fill("客户在骂人，我只是说明情况")
    with agent.expect_navigation():
        article.locator("button[data-action=appeal]").click()
    assert "appeal pending" in agent.locator(f"article[data-finding-id='{finding.id}']").inner_text()

    monitor_context = chromium.new_context(locale="zh-CN")
    try:
        monitor = _page(monitor_context)
        log_in(monitor, base, MONITOR, PASSWORD, path="/appeals")
        item = monitor.locator("article.appeal-item")
        assert item.count() == 1 and "客户在骂人，我只是说明情况" in item.inner_text()
        item.locator("input[name=comment]").fill("录音核实，申诉成立")
        with monitor.expect_navigation():
            item.locator("button[data-ruling=uphold]").click()
        assert monitor.locator("article.appeal-item").count() == 0
    finally:
        monitor_context.close()

    agent.reload()
    article = agent.locator(f"article[data-finding-id='{finding.id}']")
    ruling = article.locator(".ruling[data-ruling=upheld]")
    assert ruling.is_visible() and "申诉成立" in ruling.inner_text() and "录音核实，申诉成立" in ruling.inner_text()
    assert article.locator("form.appeal").count() == 0  # final: no second appeal
    after = before + finding.deduction
    assert agent.locator("#call-score").inner_text() == f"{after:g}" and recorded.score("D110053") == after


def test_another_agents_call_is_not_found_and_markup_shows_as_text(chromium, context, base: str) -> None:
    agent = _page(context)
    log_in(agent, base, "A03", PASSWORD)
    response = agent.goto(base + "/calls/D110053")  # A07's call
    assert response.status == 404
    assert "404" in agent.locator("h1").inner_text() and agent.locator("#call-audio").count() == 0
    assert "D110053" not in agent.locator("h1").inner_text()
    assert agent.request.get(base + "/calls/D110053/audio").status == 404
    assert agent.request.get(base + "/api/calls/D110053").status == 404

    # The page's CSP would stop an inline script anyway: bypass it, so that only escaping is tested.
    unguarded = chromium.new_context(bypass_csp=True)
    try:
        unguarded.add_init_script("window.__xss = 0")
        monitor = _page(unguarded)
        log_in(monitor, base, MONITOR, PASSWORD, path=f"/calls/{XSS}")
        assert monitor.locator("#call-audio").count() == 1
        assert monitor.evaluate("window.__xss") == 0
        assert monitor.locator("script").count() == 1  # call.js only
        assert monitor.locator(".transcript img, .findings img").count() == 0
        lines = monitor.locator(".utterance .text").all_inner_texts()
        assert f"{SCRIPT}我家宽带断了" in lines and f"{IMG}这不关我的事" in lines
        assert monitor.get_by_text("<script>window.__xss", exact=False).first.is_visible()
        assert "<script>window.__xss" not in monitor.content() and "<img src" not in monitor.content()
        monitor.goto(base + "/worklist")
        assert monitor.evaluate("window.__xss") == 0
    finally:
        unguarded.close()


def test_player_speed_channel_and_range(context, base: str, recorded: Center) -> None:
    errors: list[str] = []
    page = _page(context, errors)
    log_in(page, base, MONITOR, PASSWORD, path="/calls/D110028")
    _wait_metadata(page)
    assert _audio(page, "a.duration") == pytest.approx(55.4, abs=0.1)

    page.select_option("#speed", "1.5")
    assert _audio(page, "a.playbackRate") == 1.5
    page.select_option("#channel", "agent")
    page.evaluate("document.getElementById('call-audio').play()")
    start = _audio(page, "a.currentTime")
    _until(page, f"document.getElementById('call-audio').currentTime > {start + 0.3}")
    assert _audio(page, "!a.paused && !a.error") is True
    page.select_option("#channel", "both")
    _audio(page, "a.pause()")

    # Seeking far into the call fetches from there: HTTP Range, answered 206 with that part only.
    size = Path(recorded.calls["D110028"].audio_path).stat().st_size
    answer = page.evaluate("""async () => {
        const r = await fetch('/api/calls/D110028/audio', {headers: {Range: 'bytes=1600000-1600999'}});
        return {status: r.status, range: r.headers.get('content-range'), length: (await r.arrayBuffer()).byteLength};
    }""")
    assert answer == {"status": 206, "range": f"bytes 1600000-1600999/{size}", "length": 1000}
    _audio(page, "(a.currentTime = 50, 0)")
    _until(page, "!document.getElementById('call-audio').seeking")
    assert abs(_audio(page, "a.currentTime") - 50) < 0.5
    assert errors == []


def test_screenshots(chromium, context, base: str, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots = []

    def shoot(page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.evaluate("document.fonts.ready.then(() => true)")
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copyfile(path, SHOTS / path.name)
        shots.append(path)

    monitor = _page(context)
    log_in(monitor, base, MONITOR, PASSWORD, path="/worklist")
    shoot(monitor, "monitor-worklist")
    monitor.goto(base + "/calls/D110028")
    monitor.keyboard.press("j")
    shoot(monitor, "monitor-call")

    agent_context = chromium.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    try:
        agent = _page(agent_context)
        log_in(agent, base, "A07", PASSWORD, path="/calls/D110053")
        shoot(agent, "agent-call")
    finally:
        agent_context.close()
    for path in shots:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000, (path, len(data))
