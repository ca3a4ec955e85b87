"""The audit trail: every kind of event the services record, the filters and the CSV export of the
audit page, and the append-only guard. On each backend."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from qcpipe import audit
from qcpipe.accounts import add_user, log_in, set_disabled, set_password
from qcpipe.accounts.roles import Viewer
from qcpipe.audit import AuditFilters, AuditTampering
from qcpipe.calls.retry import mark_for_retry
from qcpipe.periods import DEFAULT_TIMEZONE
from qcpipe.review import decide_appeal, file_appeal, review_as
from qcpipe.review.assignment import assign_flagged
from qcpipe.review.worklist import WorklistFilters
from qcpipe.store.models import AuditEvent, CallStatus, UserRole, utcnow
from tests.helpers.web import PASSWORD, finding_of, seed_center, stored_call

TZ = DEFAULT_TIMEZONE
SHANGHAI_NOON = datetime.fromisoformat("2026-11-02T12:00:00+08:00")


@pytest.fixture
def trail(db):
    """Events of several people on three days (Shanghai): 1, 2 and 3 November 2026."""
    with db.transaction() as session:
        for day, actor, action, object_type, object_id, detail in [
            (1, "lead", "login", "user", "lead", ""),
            (1, "mallory", "login.failed", "user", "mallory", ""),
            (2, "monitor1", "finding.overturn", "finding", "41", "客户先开口"),
            (2, "monitor1", "login", "user", "monitor1", ""),
            (2, "admin", "user.add", "user", "zhang", "role monitor"),
            (3, "=cmd|' /C calc'!A0", "login.failed", "user", "=cmd", ""),
            (3, "monitor1", "logout", "user", "monitor1", ""),
            (3, "lead", "loginsomething", "user", "lead", "not a login: no dot after the prefix"),
        ]:
            audit.record(session, actor, action, object_type, object_id, detail,
                         at=SHANGHAI_NOON + timedelta(days=day - 2))
    return db


def _actions(db, filters: AuditFilters) -> list[str]:
    with db.session() as session:
        return [e.action for e in audit.events(session, filters, timezone=TZ).entries]


def test_filters_by_actor_action_prefix_object_and_days(trail) -> None:
    assert _actions(trail, AuditFilters(action="login")) == ["login.failed", "login", "login.failed", "login"]
    assert _actions(trail, AuditFilters(action="login.failed")) == ["login.failed", "login.failed"]
    assert _actions(trail, AuditFilters(actor="monitor1")) == ["logout", "login", "finding.overturn"]
    assert _actions(trail, AuditFilters(object="finding:41")) == ["finding.overturn"]
    assert _actions(trail, AuditFilters(object="zhang")) == ["user.add"]
    assert _actions(trail, AuditFilters(date_from=date(2026, 11, 2), date_to=date(2026, 11, 2))) == [
        "user.add", "login", "finding.overturn"]
    assert _actions(trail, AuditFilters(action="login", date_from=date(2026, 11, 3))) == ["login.failed"]
    assert _actions(trail, AuditFilters(action="login%")) == []  # a LIKE wildcard is a character, not a pattern


def test_pages_newest_first(trail) -> None:
    with trail.session() as session:
        first = audit.events(session, AuditFilters(), timezone=TZ, page=1, page_size=3)
        last = audit.events(session, AuditFilters(), timezone=TZ, page=3, page_size=3)
    assert (first.total, first.pages) == (8, 3)
    assert [e.action for e in first.entries] == ["loginsomething", "logout", "login.failed"]
    assert [e.action for e in last.entries] == ["login.failed", "login"]
    assert first.entries[0].at > last.entries[-1].at


def test_csv_has_a_bom_the_filters_and_no_formulas(trail) -> None:
    with trail.session() as session:
        chunks = list(audit.csv_chunks(session, AuditFilters(action="login"), timezone=TZ, rows_per_chunk=2))
    assert len(chunks) >= 2  # streamed a few rows at a time
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert [r[2] for r in rows[1:]] == ["login.failed", "login", "login.failed", "login"]
    assert rows[1][0] == "2026-11-03T12:00:00+08:00"  # the center's time
    assert rows[1][1] == "'=cmd|' /C calc'!A0" and rows[1][4] == "'=cmd"  # typed names are not formulas


def test_an_event_cannot_be_changed_or_deleted(trail) -> None:
    with pytest.raises(AuditTampering), trail.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.add")).one()
        event.detail = "role admin"
    with pytest.raises(AuditTampering), trail.transaction() as session:
        session.delete(session.scalars(select(AuditEvent).where(AuditEvent.action == "logout")).one())
    with pytest.raises(AuditTampering), trail.transaction() as session:
        session.execute(update(AuditEvent).values(actor="nobody"))
    with pytest.raises(AuditTampering), trail.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.actor == "mallory"))
    with trail.session() as session:
        assert session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "user.add")).one() == "role monitor"
        assert len(session.scalars(select(AuditEvent)).all()) == 8
        assert {e.actor for e in session.scalars(select(AuditEvent))} >= {"mallory", "lead", "monitor1"}


def test_every_kind_of_event_the_issue_names_is_recorded(db, rulebook) -> None:
    with db.transaction() as session:
        seed_center(session, rulebook)
    now = utcnow()
    lead, monitor = Viewer("lead", UserRole.QA_LEAD), Viewer("monitor1", UserRole.MONITOR)
    with db.transaction() as session:
        log_in(session, "lead", PASSWORD, now=now)
        log_in(session, "lead", "wrong password", now=now)
        review_as(session, monitor, finding_of(session, "C01", "greeting").id, confirm=False, comment="有问候",
                  now=now)
        appeal = file_appeal(session, finding_of(session, "C05", "forbidden_phrase").id, agent="A03", reason="没说",
                             window_days=30, now=now)
        decide_appeal(session, appeal.id, uphold=False, by="monitor1", comment="维持", now=now)
        assign_flagged(session, lead, ["monitor1"], each=None, filters=WorklistFilters(), timezone=TZ, now=now)
        add_user(session, "zhang", UserRole.MONITOR, "a-good-password", by="admin")
        set_password(session, "zhang", "another-password", by="admin", now=now)
        set_disabled(session, "zhang", True, by="admin")
        stored_call(session, "C03").status, stored_call(session, "C03").error = CallStatus.FAILED, "x.wav: broken"
        session.flush()
        mark_for_retry(session, ["C03"], by="admin", now=now)
    with db.session() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert actions >= {"login", "login.failed", "finding.overturn", "appeal.file", "appeal.rejected",
                       "assignment.flagged", "user.add", "user.set_password", "user.disable", "call.retry"}
