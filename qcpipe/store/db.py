"""Open a database by SQLAlchemy URL and bring its schema up to date with Alembic."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from qcpipe.errors import ConfigError, StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


BUSY_TIMEOUT_S = 60  # how long a writer waits for another to finish before giving up
_WRITE = "qcpipe_write"  # execution option: this connection's transaction will write
_ROW_LOCKS = "qcpipe_row_locks"  # execution option: on PostgreSQL, it locks the rows it takes only


class Database:
    """An engine plus sessions. `transaction()` is the unit of work: one call, all or nothing.

    SQLite: a write transaction takes the write lock when it begins (BEGIN IMMEDIATE). With the
    default deferred BEGIN, two runs that each read, then write, deadlock, and SQLite answers
    one of them "database is locked" at once instead of letting it wait its turn.

    PostgreSQL: a write transaction begins by taking a transaction-level advisory lock of its
    schema, so that writers take turns there too (two runs migrating a new database, claiming
    a call or adding the same new agent at once); readers never wait.
    """

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigError(f"database URL '{url}' is not a SQLAlchemy URL (e.g. sqlite:///qcpipe.db)") from None
        self.url = url
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            # orjson decodes JSON columns (the word timings of every utterance, when calls are
            # re-scored or previewed) several times faster than the standard library.
            self.engine: Engine = create_engine(parsed, json_deserializer=orjson.loads)
        except ImportError as exc:  # the driver of a server database is an extra
            raise ConfigError(f"database URL '{parsed.render_as_string(hide_password=True)}' needs a driver that is "
                              f"not installed ({exc.name}): pip install 'qcpipe[postgres]' for PostgreSQL") from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif parsed.get_backend_name() == "postgresql":
            event.listen(self.engine, "begin", _postgresql_begin)
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)
        self._claim_sessions = sessionmaker(self._writer.execution_options(**{_ROW_LOCKS: True}),
                                            expire_on_commit=False)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration (idempotent; two processes
        starting on a new database at once take turns, the second finds it done)."""
        with _friendly_errors(self.url, opening=True), self._writer.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            if current == _head():
                return
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading (what it writes is not committed unless the caller does)."""
        with _friendly_errors(self.url), self._sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed together at the end, or rolled back on any error.

        Raises StoreError when the database cannot take the write (locked too long, full).
        """
        with _friendly_errors(self.url), self._write_sessions.begin() as session:
            yield session

    @contextmanager
    def claim_transaction(self) -> Iterator[Session]:
        """A write transaction for claiming calls: on SQLite the same as `transaction`; on
        PostgreSQL it takes only the row locks of what it touches (SELECT … FOR UPDATE SKIP
        LOCKED), not the schema's write lock, so that runs on many machines claim their next
        calls side by side instead of in turn."""
        with _friendly_errors(self.url), self._claim_sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str) -> Database:
    """Connect and migrate: the schema is created on first use.

    Raises StoreError, naming the database, when it cannot be opened (a damaged or foreign
    file, an unreachable server, no permission).
    """
    database = Database(url)
    try:
        database.migrate()
    except BaseException:
        database.dispose()
        raise
    return database


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _head() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


@contextmanager
def _friendly_errors(url: str, opening: bool = False) -> Iterator[None]:
    """The errors of the database itself, said plainly and naming it (the driver's words kept at
    the end), as StoreError: nothing more can be done with this database until it is fixed.

    What a statement did wrong (a constraint, a value the column refuses) is the caller's to
    handle and passes through, except while `opening` (migrating), where everything is the
    database's."""
    where = _shown_url(url)
    try:
        yield
    except OperationalError as exc:
        cause = str(exc.orig).lower()
        if "locked" in cause or "busy" in cause or "lock timeout" in cause:
            raise StoreError(f"{where}: the database stayed locked by another program for more than "
                             f"{BUSY_TIMEOUT_S} s; nothing was half-written, re-run to resume ({exc.orig})") from exc
        if "full" in cause or "no space" in cause:
            raise StoreError(f"{where}: the database or its disk is full; nothing was half-written, "
                             f"free space and re-run to resume ({exc.orig})") from exc
        if "readonly" in cause or "read-only" in cause or "unable to open" in cause:
            raise StoreError(f"{where}: cannot write the database ({exc.orig})") from exc
        raise StoreError(f"{where}: {_first_line(exc.orig)}") from exc
    except DatabaseError as exc:
        # Exactly DatabaseError: "file is not a database", "database disk image is malformed" …
        if opening or type(exc) is DatabaseError:
            raise StoreError(f"{where}: {_first_line(exc.orig)}") from exc
        raise
    except SQLAlchemyError as exc:
        if opening:
            raise StoreError(f"{where}: {_first_line(exc)}") from exc
        raise


def _shown_url(url: str) -> str:
    """The database as a person names it: the file of a SQLite URL, else the URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(parsed.database).expanduser())
    return parsed.render_as_string(hide_password=True)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # qcpipe begins transactions itself (_sqlite_begin); the driver's own BEGIN is deferred.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # The busy timeout makes a second writer wait its turn instead of failing with
    # "database is locked"; set first, so that the statements below wait too.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets a reviewer read while the nightly batch writes.
    _switch_to_wal(cursor)
    cursor.close()


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """Put the file in WAL mode (a no-op once it is). Programs opening a new file at once may
    each be told "database is locked" straight away, the busy timeout not waited: SQLite refuses
    a switch of journal mode that could deadlock rather than wait for it (4 programs opening
    one new file: 5 of 40 tries failed so). So the switch is tried again until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "BEGIN")


def _postgresql_begin(connection: Connection) -> None:
    # Under READ COMMITTED, two writers that each read, then write, both go ahead: both migrate
    # a new schema, take over the same dead claim, insert the same new agent. The schema's
    # advisory lock (released at commit or rollback) makes them take turns, as on SQLite.
    options = connection.get_execution_options()
    if options.get(_WRITE):
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{BUSY_TIMEOUT_S}s'")
        if options.get(_ROW_LOCKS):
            return
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('qcpipe ' || coalesce(current_schema(), '')))")
