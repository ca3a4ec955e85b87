"""Shared fixtures: the dev corpus, the real embedded model, fresh SQLite databases, audio helpers."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from qcpipe.asr import AsrOptions, Transcriber
from qcpipe.config import default_models_dir
from qcpipe.store import Database, open_database

REPO = Path(__file__).resolve().parents[1]
DEV_CORPUS = REPO.parent / "shared" / "corpus" / "dev"
SAMPLES = REPO / "samples"


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    if not DEV_CORPUS.is_dir():
        raise pytest.UsageError(f"the dev corpus is missing: {DEV_CORPUS} (tests need ../shared beside the repo)")


@pytest.fixture(scope="session")
def dev_corpus() -> Path:
    return DEV_CORPUS


def dev_label(call_id: str) -> dict:
    return json.loads((DEV_CORPUS / "labels" / f"{call_id}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    """The real embedded Whisper base model on CPU, loaded once for the whole test session."""
    return Transcriber(AsrOptions(device="cpu", compute_type="int8"), default_models_dir(), workers=2)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    """A fresh, migrated SQLite database file per test."""
    database = open_database(f"sqlite:///{tmp_path / 'qcpipe.db'}")
    yield database
    database.dispose()


def write_audio(path: Path, samples: np.ndarray, rate: int, subtype: str | None = None, format: str | None = None) -> Path:
    """Write (n, channels) float samples in a given container/subtype."""
    soundfile.write(str(path), samples, rate, subtype=subtype, format=format)
    return path


@pytest.fixture(scope="session")
def opening_stereo() -> tuple[np.ndarray, int]:
    """The first 11 s of a dev call (agent greeting + customer request), (n, 2) at 8 kHz."""
    data, rate = soundfile.read(str(DEV_CORPUS / "audio" / "D110001.wav"), dtype="float32", always_2d=True)
    return data[: 11 * rate], rate


def settled(*paths: Path) -> None:
    """Date files an hour back: `qcpipe run` leaves files modified in the last seconds alone
    (a recorder may still be writing them), as it would a file written by a test just now."""
    past = time.time() - 3600
    for path in paths:
        os.utime(path, (past, past))


def copy_calls(call_ids: list[str], dest: Path) -> Path:
    """Copy dev calls and a manifest of just those rows into `dest`; return the manifest path."""
    (dest / "audio").mkdir(parents=True, exist_ok=True)
    with open(DEV_CORPUS / "calls.csv", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["call_id"] in call_ids]
    for row in rows:
        shutil.copy2(DEV_CORPUS / row["audio"], dest / row["audio"])  # keeps the old mtime: a settled file
    manifest = dest / "calls.csv"
    with open(manifest, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="session")
def dev_db(tmp_path_factory, transcriber) -> Database:
    """The whole dev corpus run through the real pipeline (ASR + default rulebook), once per session."""
    from qcpipe.ingest import read_manifest
    from qcpipe.pipeline import run_batch
    from qcpipe.scoring import load_rulebook

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


def qcpipe(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `qcpipe` command as a user would, in its own process, with QCPIPE_HOME=home."""
    env = {**os.environ, "QCPIPE_HOME": str(home), "COLUMNS": "200"}
    env.pop("QCPIPE_DB", None)
    result = subprocess.run(
        [sys.executable, "-m", "qcpipe", *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"qcpipe {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def dev_db_copy(dev_db, tmp_path: Path) -> Database:
    """A private copy of the scored dev corpus database, for tests that change it."""
    from sqlalchemy.engine import make_url

    copy = tmp_path / "dev-copy.db"
    shutil.copy(make_url(dev_db.url).database, copy)
    database = open_database(f"sqlite:///{copy}")
    yield database
    database.dispose()
