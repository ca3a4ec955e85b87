"""The dev corpus through `qcpipe run`, in a process of its own started as soon as the tests are
collected, so that its transcription (the longest setup of the suite: 64 calls through the real
model) runs beside the tests that do not need it, on the cores they leave idle, instead of
before the tests that do. Those tests are run last (see `tests/conftest.py`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers.paths import DEV_CORPUS

# The fixtures that read the transcribed dev corpus: a test using one of them runs last.
DEV_FIXTURES = frozenset({"dev_sqlite", "dev_db", "dev_db_copy"})


class DevCorpusRun:
    """`qcpipe run` over the dev corpus into a new SQLite file, as a user runs the nightly job
    (the embedded model on CPU, int8, two calls at a time; the shipped default rulebook)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="qcpipe-dev-corpus-"))
        self.url = f"sqlite:///{self.folder / 'dev.db'}"
        self.log = self.folder / "run.log"
        environment = {**os.environ, "QCPIPE_HOME": str(self.folder / "home"), "COLUMNS": "200"}
        environment.pop("QCPIPE_DB", None)
        environment.pop("QCPIPE_CONFIG", None)
        with open(self.log, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "qcpipe", "run", str(DEV_CORPUS), "--manifest", str(DEV_CORPUS / "calls.csv"),
                 "--db", self.url, "--device", "cpu", "--compute-type", "int8", "--workers", "2"],
                stdout=log, stderr=subprocess.STDOUT, env=environment,
            )

    def wait(self, timeout_s: float = 3600) -> str:
        """The database's URL once every call is done; AssertionError with the run's output if not."""
        code = self.process.wait(timeout=timeout_s)
        output = self.log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, f"qcpipe run over the dev corpus exited {code}:\n{output[-4000:]}"
        return self.url

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
