"""Schema by migration, aware datetimes, and all-or-nothing writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from qcpipe.store import Call, CallStatus, open_database


def test_schema_is_created_by_migrations_on_first_use(db_url: str) -> None:
    database = open_database(db_url)
    tables = set(inspect(database.engine).get_table_names())
    assert {"calls", "segments", "speech_regions", "agents", "teams", "alembic_version"} <= tables
    database.migrate()  # idempotent
    database.dispose()


def test_a_sqlite_file_is_created_with_its_folders(tmp_path: Path) -> None:
    open_database(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'q.db'}").dispose()
    assert (tmp_path / "nested" / "dir" / "q.db").is_file()


def test_programs_opening_a_new_database_at_once_take_turns_migrating_it(db_url: str, tmp_path: Path) -> None:
    """Four processes started on an empty database at once: one migrates, the others find it done.
    On SQLite twenty new files, each opened four times at once: SQLite may refuse the switch to
    WAL straight away rather than wait for it (5 of 40 such tries failed before it was retried)."""
    urls = [f"sqlite:///{tmp_path / f'new{i}.db'}" for i in range(20)] if db_url.startswith("sqlite") else [db_url]
    for url in urls:
        with ThreadPoolExecutor(4) as pool:
            databases = list(pool.map(lambda _: open_database(url), range(4)))
        with databases[0].session() as session:
            assert session.scalars(select(Call)).all() == []
        for database in databases:
            database.dispose()


def test_times_are_stored_in_utc_and_read_back_aware(db) -> None:
    local = datetime(2026, 10, 2, 9, 15, tzinfo=timezone(timedelta(hours=8)))
    with db.transaction() as session:
        session.add(Call(call_id="C1", audio_path="/x.wav", status=CallStatus.DONE, started_at=local, extra={}))
    with db.session() as session:
        stored = session.scalar(select(Call.started_at))
    assert stored == local and stored.utcoffset() == timedelta(0)


def test_a_failed_transaction_leaves_nothing(db) -> None:
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            session.add(Call(call_id="C1", audio_path="/x.wav", status=CallStatus.DONE, extra={}))
            session.flush()
            raise RuntimeError("crash mid-call")
    with db.session() as session:
        assert session.scalars(select(Call)).all() == []


def test_bad_url_is_a_clear_error() -> None:
    from qcpipe.errors import ConfigError

    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        open_database("not a url")


def test_calls_stored_before_speech_levels_load_without_them(db_url: str) -> None:
    """A database of 0007 (no speech levels) upgraded: its regions read back with no level, and
    the loudness check says why it cannot rule on such a call."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from qcpipe.scoring import load_rulebook, score_call
    from qcpipe.scoring.records import call_input
    from qcpipe.store.db import _alembic_config

    engine = create_engine(db_url)
    with engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        connection.execute(text("INSERT INTO calls (call_id, audio_path, status, extra, processed_at, duration_s) "
                                "VALUES ('OLD1', '/nonexistent/OLD1.wav', 'done', '{}', '2026-10-01 00:00:00', 20.0)"))
        pk = connection.execute(text("SELECT id FROM calls WHERE call_id = 'OLD1'")).scalar_one()
        connection.execute(text("INSERT INTO segments (call_pk, channel, role, start_s, end_s, text, confidence, words) "
                                "VALUES (:pk, 0, 'agent', 1.0, 4.0, '您好，请问有什么可以帮您', 0.9, '[]')"), {"pk": pk})
        connection.execute(text("INSERT INTO speech_regions (call_pk, channel, role, start_s, end_s) "
                                "VALUES (:pk, 0, 'agent', 0.6, 4.4)"), {"pk": pk})
    engine.dispose()
    database = open_database(db_url)  # migrates to the newest
    with database.session() as session:
        call = session.scalars(select(Call).where(Call.call_id == "OLD1")).one()
        heard = call_input(call)
    database.dispose()
    assert [r.level_db for r in heard.speech] == [None]
    result = score_call(heard, load_rulebook())
    assert [n.reason for n in result.not_applicable if n.rule_id == "raised_voice"] == [
        "no speech levels stored for this call (transcribed before levels were measured): transcribe it again "
        "to check loudness"]
