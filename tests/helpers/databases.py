"""Databases for tests, on each backend qcpipe supports: a fresh SQLite file, or a fresh schema of
the PostgreSQL server named by $QCPIPE_TEST_PG (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test).

A PostgreSQL test database is a schema of its own (`qct_<unix time>_<random>`): its URL sets the
connection's `search_path` to it, so Alembic's version table and every table live there, and it
is dropped (CASCADE) when the test ends, after ending any connection the test left open to it.
A run killed outright leaves its schemas behind: `drop_stale_schemas` removes them a day later.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from qcpipe.store import Database, open_database
from qcpipe.store.models import Base

BACKENDS = ("sqlite", "postgres")
PG_VARIABLE = "QCPIPE_TEST_PG"
SCHEMA_PREFIX = "qct_"
STALE_S = 24 * 3600  # no test run lasts a day: an older schema was left by a killed one


def postgres_server() -> str | None:
    """The PostgreSQL server URL the tests may use ($QCPIPE_TEST_PG), or None."""
    return os.environ.get(PG_VARIABLE) or None


def postgres_problem(url: str) -> str | None:
    """Why the server at `url` cannot be used for tests (None when it can)."""
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    except ImportError as exc:
        return f"{shown}: the driver is not installed ({exc.name}): pip install -e '.[test,postgres]'"
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any reason is the reason to report
        return f"{shown}: {(str(getattr(exc, 'orig', None) or exc).strip().splitlines() or [type(exc).__name__])[0]}"
    finally:
        engine.dispose()
    return None


def schema_url(server: str, schema: str) -> str:
    """The URL of `schema` on `server`: connections use only that schema (search_path), and
    name themselves after it (application_name), so that leftover ones can be found and ended."""
    url = make_url(server)
    options = " ".join(filter(None, [url.query.get("options"), f"-csearch_path={schema}"]))
    return url.update_query_dict({"options": options, "application_name": schema}).render_as_string(hide_password=False)


@contextmanager
def temporary_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database (no tables yet): a SQLite file to be in `tmp_path`, or a
    new schema on the $QCPIPE_TEST_PG server, dropped on exit."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'qcpipe.db'}"
        return
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    server = postgres_server()
    if server is None:
        raise RuntimeError(f"${PG_VARIABLE} is not set: no PostgreSQL server to make a test database on")
    schema = f"{SCHEMA_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema_url(server, schema)
        finally:
            with admin.begin() as connection:
                # A connection still open on the schema (a test that did not dispose of its
                # engine, a killed process) would hold the drop up: end it first.
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                        "WHERE application_name = :schema AND pid <> pg_backend_pid()"),
                                   {"schema": schema})
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def drop_stale_schemas(server: str) -> None:
    """Drop the test schemas that killed runs left on `server`: a day old, nobody connected."""
    engine = create_engine(server, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            schemas = connection.scalars(text(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE :prefix AND nspname NOT IN "
                "(SELECT application_name FROM pg_stat_activity)"), {"prefix": f"{SCHEMA_PREFIX}%"}).all()
            for schema in schemas:
                born = schema[len(SCHEMA_PREFIX):].split("_")[0]
                if born.isdigit() and int(born) < time.time() - STALE_S:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        engine.dispose()


@contextmanager
def temporary_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A new qcpipe database on `backend`, migrated by `open_database`, disposed and dropped on exit."""
    with temporary_url(backend, tmp_path) as url:
        database = open_database(url)
        try:
            yield database
        finally:
            database.dispose()


def copy_rows(source: Database, target: Database) -> None:
    """Copy every row of qcpipe's tables from `source` into the empty, migrated `target`, keeping
    ids (tables in foreign-key order); then PostgreSQL's id sequences continue after them."""
    with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in Base.metadata.sorted_tables:
            rows = [dict(row) for row in reading.execute(select(table)).mappings()]
            if rows:
                writing.execute(insert(table), rows)
        if writing.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                if "id" in table.c and table.c.id.primary_key:
                    writing.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), coalesce(max(id), 0) + 1, false) "
                        f"FROM {table.name}"
                    ))
