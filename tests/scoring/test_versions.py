"""Rulebook versions: the rulebook in force, publishing, refusals, the history (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from qcpipe.errors import NotFoundError, QcpipeError
from qcpipe.scoring import DEFAULT_RULEBOOK, RulebookError, load_rulebook, parse_rulebook
from qcpipe.scoring.versions import (
    SEEDED_COMMENT,
    RulebookConflict,
    RulebookUnchanged,
    active_rulebook,
    get_version,
    list_versions,
    publish,
    version_rulebook,
    yaml_diff,
)
from qcpipe.store import Database
from qcpipe.store.models import AuditEvent
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.rows import seed_call
from tests.helpers.web import dialogue, stored_call

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
SHIPPED = DEFAULT_RULEBOOK.read_text(encoding="utf-8")


def with_deduction(text: str, check_id: str, old: float, new: float) -> str:
    """The rulebook text with `check_id`'s deduction changed from `old` to `new`."""
    start = text.index(f"- id: {check_id}\n")
    at = text.index(f"deduction: {old:g}\n", start)
    return text[:at] + f"deduction: {new:g}\n" + text[at + len(f"deduction: {old:g}\n"):]


def test_without_versions_the_settings_file_is_in_force(db: Database, tmp_path) -> None:
    own = tmp_path / "rules.yaml"
    own.write_text(with_deduction(SHIPPED, "greeting", 5, 7), encoding="utf-8")
    with db.session() as session:
        shipped = active_rulebook(session)
        from_file = active_rulebook(session, own)
    assert shipped.version is None and shipped.number == 0
    assert shipped.rulebook.content_hash == load_rulebook(DEFAULT_RULEBOOK).content_hash
    assert shipped.yaml == SHIPPED
    assert from_file.rulebook.rule("greeting").deduction == 7 and from_file.path == own


def test_the_first_publish_keeps_the_file_as_version_1_and_the_draft_as_2(db: Database) -> None:
    draft = with_deduction(SHIPPED, "greeting", 5, 8)
    with db.transaction() as session:
        info = publish(session, draft, by="lead", comment="问候语扣 8 分", now=NOW, base_number=0)
    assert info.number == 2 and info.published_by == "lead" and info.comment == "问候语扣 8 分"
    with db.session() as session:
        versions = list_versions(session)
        active = active_rulebook(session)
        first = get_version(session, 1)
    assert [v.number for v in versions] == [2, 1]
    assert first.yaml == SHIPPED and first.info.comment == SEEDED_COMMENT
    assert active.number == 2 and active.rulebook.rule("greeting").deduction == 8
    assert active.rulebook.content_hash == info.content_hash != first.info.content_hash
    assert active.version is not None and active.version.published_at == NOW


def test_a_second_publish_makes_version_3_and_keeps_the_old_ones_readable(db: Database) -> None:
    with db.transaction() as session:
        publish(session, with_deduction(SHIPPED, "greeting", 5, 8), "lead", "8 分", NOW, 0)
    with db.transaction() as session:
        info = publish(session, with_deduction(SHIPPED, "greeting", 5, 6), "admin", "6 分", NOW + timedelta(hours=1), 2)
    assert info.number == 3
    with db.session() as session:
        assert active_rulebook(session).rulebook.rule("greeting").deduction == 6
        second = get_version(session, 2)
        assert version_rulebook(second).rule("greeting").deduction == 8
        assert version_rulebook(get_version(session, 1)).rule("greeting").deduction == 5
        with pytest.raises(NotFoundError):
            get_version(session, 4)
        third = get_version(session, 3)
    diff = yaml_diff(second.yaml, third.yaml, "version 2", "version 3")
    assert "-    deduction: 8" in diff and "+    deduction: 6" in diff


def test_a_draft_from_an_older_version_is_refused_as_a_conflict(db: Database) -> None:
    with db.transaction() as session:
        publish(session, with_deduction(SHIPPED, "greeting", 5, 8), "lead", "first lead", NOW, 0)
    # The second lead opened the editor before that publish: their draft is based on the file (0).
    with pytest.raises(RulebookConflict, match="version 2 was published by lead"), db.transaction() as session:
        publish(session, with_deduction(SHIPPED, "closing", 5, 9), "admin", "second lead", NOW, 0)
    with db.session() as session:
        assert [v.number for v in list_versions(session)] == [2, 1]
        assert active_rulebook(session).rulebook.rule("closing").deduction == 5


def test_a_bad_rulebook_is_refused_naming_the_line(db: Database) -> None:
    bad = SHIPPED.replace("kind: required_phrases", "kind: required_phrase", 1)
    line = SHIPPED[: SHIPPED.index("kind: required_phrases")].count("\n") + 1
    with pytest.raises(RulebookError) as refused, db.transaction() as session:
        publish(session, bad, "lead", "typo", NOW, 0)
    assert refused.value.line == line and f"line {line}" in str(refused.value)
    with db.session() as session:
        assert list_versions(session) == []


def test_an_unchanged_draft_or_no_comment_is_refused(db: Database) -> None:
    with pytest.raises(RulebookUnchanged), db.transaction() as session:
        publish(session, SHIPPED, "lead", "nothing", NOW, 0)
    with pytest.raises(QcpipeError, match="comment"), db.transaction() as session:
        publish(session, with_deduction(SHIPPED, "greeting", 5, 8), "lead", "  ", NOW, 0)
    with db.session() as session:
        assert list_versions(session) == []


def test_a_browser_form_s_crlf_lines_publish_the_same_text(db: Database) -> None:
    draft = with_deduction(SHIPPED, "greeting", 5, 8)
    with db.transaction() as session:
        info = publish(session, draft.replace("\n", "\r\n"), "lead", "from a form", NOW, 0)
    with db.session() as session:
        assert get_version(session, info.number).yaml == draft
    assert info.content_hash == parse_rulebook(draft).content_hash


def test_publishing_is_in_the_audit_trail(db: Database) -> None:
    with db.transaction() as session:
        publish(session, with_deduction(SHIPPED, "greeting", 5, 8), "lead", "问候语扣 8 分", NOW, 0)
    with db.session() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "rulebook.publish")))
    assert [(e.actor, e.object_type, e.object_id) for e in events] == [("lead", "rulebook_version", "2")]
    assert "问候语扣 8 分" in events[0].detail


def test_the_cli_scores_with_the_version_in_force_unless_given_rules(db: Database, rulebook, tmp_path) -> None:
    with db.transaction() as session:
        seed_call(session, dialogue("喂"), call_id="V01", agent="A03", team="一组", started_at="2026-10-08",
                  rulebook=rulebook)
    with db.session() as session:
        assert stored_call(session, "V01").qa_score == 95  # greeting missing: −5
    with db.transaction() as session:
        publish(session, with_deduction(SHIPPED, "greeting", 5, 8), "lead", "问候语扣 8 分", NOW, 0)

    env = {"QCPIPE_DB": db.url}
    scored = qcpipe_in_process("score", home=tmp_path, env=env)
    with db.session() as session:
        call = stored_call(session, "V01")
        assert call.qa_score == 92 and call.rulebook_hash == active_rulebook(session).rulebook.content_hash
    assert call.rulebook_hash[:12] in scored.stdout
    qcpipe_in_process("score", "--rules", str(DEFAULT_RULEBOOK), home=tmp_path, env=env)
    with db.session() as session:
        assert stored_call(session, "V01").qa_score == 95  # an explicit file wins, for that command

    listed = qcpipe_in_process("rules", "versions", home=tmp_path, env=env).stdout
    assert "问候语扣 8 分" in listed and "lead" in listed
    assert qcpipe_in_process("rules", "show", "1", home=tmp_path, env=env).stdout == SHIPPED
    checked = qcpipe_in_process("rules", "check", home=tmp_path, env=env).stdout
    assert checked.startswith("rulebook version 2: ok")
    missing = qcpipe_in_process("rules", "show", "7", home=tmp_path, env=env, check=False)
    assert missing.returncode == 1 and "no rulebook version 7" in missing.stderr
