"""Shared fixtures: the dev corpus, the real embedded model, the default rulebook, fresh databases.

Every database fixture runs each test on both backends: SQLite (a file) and PostgreSQL (a schema
of its own on the server of $QCPIPE_TEST_PG; see `tests.helpers.databases`). The PostgreSQL
variants carry the `postgres` mark: without $QCPIPE_TEST_PG they are skipped, saying why, except
under CI=true, where a missing or unreachable server stops the run at collection.

Helpers that are not fixtures (paths, audio files, the `qcpipe` command, scripted calls, stored
rows, test databases) are in `tests.helpers`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from qcpipe.asr import AsrOptions, Transcriber
from qcpipe.config import default_models_dir
from qcpipe.scoring import Rulebook, load_rulebook
from qcpipe.store import Database, open_database
from tests.helpers.databases import (
    PG_VARIABLE,
    copy_rows,
    drop_stale_schemas,
    postgres_problem,
    postgres_server,
    temporary_database,
    temporary_url,
)
from tests.helpers.dev_run import DEV_FIXTURES, DevCorpusRun
from tests.helpers.paths import DEV_CORPUS, REPO
from tests.helpers.transcribers import reading_script

BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]

# pytest-xdist's test processes start with COLUMNS=80 in their environment. The command line's
# consoles would take that width for good when first imported, and a command run in this process
# (`tests.helpers.cli.qcpipe_in_process`) would print a narrower table than the width it sets.
os.environ.pop("COLUMNS", None)


_DEV_RUN_FOLDER = pytest.StashKey[Path]()
_DEV_RUN_OPTION = "qcpipe_dev_corpus_run"


def pytest_configure(config: pytest.Config) -> None:
    # The session's one dev-corpus run (`tests.helpers.dev_run`): named here, or for a session
    # spread over processes by its controller, which hands the name to each of them.
    handed = getattr(config, "workerinput", {}).get(_DEV_RUN_OPTION)
    config.stash[_DEV_RUN_FOLDER] = Path(handed) if handed else DevCorpusRun.new_folder()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist, in the controller: each test process is told the dev-corpus run's folder."""
    node.workerinput[_DEV_RUN_OPTION] = str(node.config.stash[_DEV_RUN_FOLDER])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist, in the controller: with `--dist loadfile` (scripts/test.sh), a test file on one
    test process and the whole-machine files taking turns (`tests.helpers.scheduling`)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.helpers.scheduling import FileScheduling  # pytest-xdist is there: it calls this

    return FileScheduling(config, log)


@pytest.hookimpl(trylast=True)  # after -m and -k deselected what will not run
def pytest_collection_modifyitems(config, items):
    if not DEV_CORPUS.is_dir():
        raise pytest.UsageError(f"the dev corpus is missing: {DEV_CORPUS} (tests need ../shared beside the repo)")
    _start_the_dev_corpus_early(config, items)
    on_postgres = [item for item in items if item.get_closest_marker("postgres")]
    if not on_postgres:
        return
    server = postgres_server()
    problem = postgres_problem(server) if server else f"${PG_VARIABLE} is not set"
    if problem is None:
        drop_stale_schemas(server)
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(
            f"PostgreSQL is required under CI=true, and {problem}; {len(on_postgres)} test(s) need it "
            f"(set {PG_VARIABLE} to a reachable server, or deselect them with -m 'not postgres')"
        )
    skip = pytest.mark.skip(reason=f"PostgreSQL: {problem} (e.g. {PG_VARIABLE}=postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    for item in on_postgres:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def dev_corpus() -> Path:
    return DEV_CORPUS


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    """The real embedded Whisper base model on CPU, loaded once for the whole test session, for
    one call at a time (what most tests do): one replica decoding on every core. (With a
    replica per core, a single call would leave the other cores idle: 5.2 s against 3.6 s
    for a dev call on 2 cores.)"""
    return Transcriber(AsrOptions(device="cpu", compute_type="int8"), default_models_dir(), workers=1)


@pytest.fixture(scope="session")
def batch_transcriber() -> Transcriber:
    """The model as `qcpipe run` loads it for a batch on a 2-core machine (CI's): two calls
    decoded side by side, a replica each, for tests that transcribe several calls."""
    return Transcriber(AsrOptions(device="cpu", compute_type="int8"), default_models_dir(), workers=2)


@pytest.fixture(scope="session")
def rulebook() -> Rulebook:
    """The default rulebook, as shipped (configs/rules/default.yaml)."""
    return load_rulebook(REPO / "configs" / "rules" / "default.yaml")


@pytest.fixture(scope="session")
def run_transcriber(batch_transcriber: Transcriber, rulebook: Rulebook) -> Transcriber:
    """The session's batch model as `qcpipe run` uses it with the default rulebook: reading its script."""
    return reading_script(batch_transcriber, rulebook.script_phrases())


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Each backend in turn: "sqlite", then "postgres"."""
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> str:
    """The URL of a fresh, empty database per test (not migrated yet: no tables), on each backend."""
    with temporary_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Database:
    """A fresh database per test, migrated, on each backend."""
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    """A fresh, migrated SQLite database file, for tests of SQLite itself (locks, page limits)."""
    with temporary_database("sqlite", tmp_path) as database:
        yield database


def _start_the_dev_corpus_early(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start transcribing the dev corpus now, in its own process, and run the test files that
    read it last: the longest setup of the suite then overlaps the rest of it."""
    readers = {item.path for item in items if DEV_FIXTURES & set(getattr(item, "fixturenames", ()))}
    if not readers:
        return
    items[:] = [item for item in items if item.path not in readers] + [item for item in items if item.path in readers]
    DevCorpusRun(config.stash[_DEV_RUN_FOLDER]).start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the process that named the run's folder
        DevCorpusRun(session.config.stash[_DEV_RUN_FOLDER]).stop()


@pytest.fixture(scope="session")
def opening_stereo() -> tuple[np.ndarray, int]:
    """The first 11 s of a dev call (agent greeting + customer request), (n, 2) at 8 kHz."""
    data, rate = soundfile.read(str(DEV_CORPUS / "audio" / "D110001.wav"), dtype="float32", always_2d=True)
    return data[: 11 * rate], rate


@pytest.fixture(scope="session")
def dev_sqlite(request) -> Database:
    """The whole dev corpus run through the real pipeline (`qcpipe run`: ASR and the default
    rulebook) into SQLite, once per session: started when the tests were collected."""
    run = DevCorpusRun(request.config.stash[_DEV_RUN_FOLDER])
    run.start()  # nothing to do unless collection missed it (a plugin's reordering)
    database = open_database(run.wait())
    yield database
    database.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def dev_db(request, dev_sqlite: Database, tmp_path_factory) -> Database:
    """The scored dev corpus on each backend: transcribed once (`dev_sqlite`); on PostgreSQL, its
    rows copied into a schema of their own, once per session."""
    if request.param == "sqlite":
        yield dev_sqlite
        return
    with temporary_database("postgres", tmp_path_factory.mktemp("dev-pg")) as database:
        copy_rows(dev_sqlite, database)
        yield database


@pytest.fixture
def dev_db_copy(backend: str, dev_sqlite: Database, tmp_path: Path) -> Database:
    """A private copy of the scored dev corpus, on each backend, for tests that change it."""
    with temporary_database(backend, tmp_path) as database:
        copy_rows(dev_sqlite, database)
        yield database
