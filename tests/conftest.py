"""Shared fixtures: the dev corpus, the real embedded model, the default rulebook, fresh SQLite databases.

Helpers that are not fixtures (paths, audio files, the `qcpipe` command, scripted calls, stored
rows) are in `tests.helpers`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from qcpipe.asr import AsrOptions, Transcriber
from qcpipe.config import default_models_dir
from qcpipe.scoring import Rulebook, load_rulebook
from qcpipe.store import Database, open_database
from tests.helpers.paths import DEV_CORPUS, REPO


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    if not DEV_CORPUS.is_dir():
        raise pytest.UsageError(f"the dev corpus is missing: {DEV_CORPUS} (tests need ../shared beside the repo)")


@pytest.fixture(scope="session")
def dev_corpus() -> Path:
    return DEV_CORPUS


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    """The real embedded Whisper base model on CPU, loaded once for the whole test session."""
    return Transcriber(AsrOptions(device="cpu", compute_type="int8"), default_models_dir(), workers=2)


@pytest.fixture(scope="session")
def rulebook() -> Rulebook:
    """The default rulebook, as shipped (configs/rules/default.yaml)."""
    return load_rulebook(REPO / "configs" / "rules" / "default.yaml")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    """A fresh, migrated SQLite database file per test."""
    database = open_database(f"sqlite:///{tmp_path / 'qcpipe.db'}")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def opening_stereo() -> tuple[np.ndarray, int]:
    """The first 11 s of a dev call (agent greeting + customer request), (n, 2) at 8 kHz."""
    data, rate = soundfile.read(str(DEV_CORPUS / "audio" / "D110001.wav"), dtype="float32", always_2d=True)
    return data[: 11 * rate], rate


@pytest.fixture(scope="session")
def dev_db(tmp_path_factory, transcriber) -> Database:
    """The whole dev corpus run through the real pipeline (ASR + default rulebook), once per session."""
    from qcpipe.ingest import read_manifest
    from qcpipe.pipeline import run_batch

    path = tmp_path_factory.mktemp("dev") / "dev.db"
    database = open_database(f"sqlite:///{path}")
    summary = run_batch(
        read_manifest(DEV_CORPUS / "calls.csv"),
        database,
        lambda: transcriber,
        asr_fingerprint=transcriber.options.fingerprint(),
        workers=transcriber.workers,
        rulebook=load_rulebook(),
    )
    assert summary.failed == 0, summary.failures
    yield database
    database.dispose()


@pytest.fixture
def dev_db_copy(dev_db, tmp_path: Path) -> Database:
    """A private copy of the scored dev corpus database, for tests that change it."""
    from sqlalchemy.engine import make_url

    copy = tmp_path / "dev-copy.db"
    shutil.copy(make_url(dev_db.url).database, copy)
    database = open_database(f"sqlite:///{copy}")
    yield database
    database.dispose()
