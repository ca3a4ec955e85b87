"""The rulebook editor in a real browser (Debian's Chromium under Playwright), as an admin: edit a
deduction, validate, publish with a comment, watch the re-scoring finish, see the new version and
a call's score moved. Over the seeded center of tests/helpers/web.py, in SQLite. Screenshots are
copied to /tmp/qcpipe-shots/ to be looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the `chromium` fixture (tests/web/conftest.py)
    expect = None

from tests.helpers.browser import log_in, screenshot
from tests.helpers.web import PASSWORD

pytestmark = pytest.mark.browser


def test_edit_validate_preview_publish_and_watch_the_rescoring(chromium, base: str, tmp_path: Path) -> None:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        log_in(page, base, "admin", PASSWORD, path="/rulebook")
        assert page.url == base + "/rulebook"
        greeting = page.locator("#checks tr[data-check-id='greeting'] td.deduction")
        expect(greeting).to_have_text("−5")
        screenshot(page, "rulebook-editor.png")

        shipped = page.input_value("#rulebook-yaml")
        start = shipped.index("- id: greeting\n")
        at = shipped.index("deduction: 5\n", start)
        line = shipped[:at].count("\n") + 1
        # A typo first: the error names its line, and the line is selected in the textarea.
        page.fill("#rulebook-yaml", shipped[:at] + "deduction: 500\n" + shipped[at + len("deduction: 5\n"):])
        page.click("#validate-button")
        expect(page.locator("#check-errors .line-link")).to_have_text(f"第 {line} 行 · line {line}")
        selected = page.evaluate("() => { const t = document.getElementById('rulebook-yaml'); "
                                 "return t.value.slice(t.selectionStart, t.selectionEnd); }")
        assert selected.strip() == "deduction: 500"
        screenshot(page, "rulebook-validate-error.png")

        page.fill("#rulebook-yaml", shipped[:at] + "deduction: 8\n" + shipped[at + len("deduction: 5\n"):])
        page.click("#validate-button")
        expect(page.locator("#check-result")).to_contain_text("有效 · valid: 13")
        # What it would do before anyone is affected: the calls with a greeting finding (C01, C02,
        # C04, C06 in September and October) lose 3 more points each; nothing is saved.
        page.fill("#whatif-from", "2026-09-01")
        page.fill("#whatif-to", "2026-10-31")
        page.click("#preview-button")
        changed = page.locator("#whatif table.whatif-calls tbody tr")
        expect(changed).to_have_count(4, timeout=60_000)
        expect(page.locator("#whatif table.whatif-calls a[href='/calls/C01']")).to_be_visible()
        page.fill("#try-text", "喂，这不关我的数")
        page.click("#try-button")
        expect(page.locator("#try-result tr[data-rule='forbidden_phrase'] td.how").first).to_have_text("pinyin")

        page.fill("#publish-comment", "问候语扣分改为 8 分")
        with page.expect_navigation():
            page.click("#publish-button")
        expect(page.locator("#published")).to_contain_text("version 2")
        expect(page.locator("#rescore-status")).to_contain_text("完成 · done: 6", timeout=30_000)
        expect(page.locator("#in-force")).to_contain_text("version 2")
        expect(greeting).to_have_text("−8")
        screenshot(page, "rulebook-published.png")

        page.goto(base + "/rulebook/versions")
        expect(page.locator("#versions tr[data-version='2']")).to_contain_text("问候语扣分改为 8 分")
        expect(page.locator("#versions tr[data-version='1']")).to_be_visible()
        screenshot(page, "rulebook-versions.png")
        page.click("#versions tr[data-version='2'] a")
        expect(page.locator("#diff .diff-add")).to_contain_text(["+    deduction: 8"])
        screenshot(page, "rulebook-version-2.png")

        # C01: greeting and 禁语, 75 with greeting −5; now greeting −8.
        page.goto(base + "/worklist")
        expect(page.locator("#worklist tr[data-call-id='C01'] td.score")).to_have_text("72")
        assert not errors, errors
    finally:
        context.close()
