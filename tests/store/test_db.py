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


def test_programs_opening_a_new_database_at_once_take_turns_migrating_it(db_url: str) -> None:
    """Four processes started on an empty database at once: one migrates, the others find it done."""
    with ThreadPoolExecutor(4) as pool:
        databases = list(pool.map(lambda _: open_database(db_url), range(4)))
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
