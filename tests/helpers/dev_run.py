"""The dev corpus through `qcpipe run`, in a process of its own started as soon as the tests are
collected, so that its transcription (the longest setup of the suite: 64 calls through the real
model) runs beside the tests that do not need it, on the cores they leave idle, instead of
before the tests that do. Those tests are run last (see `tests/conftest.py`).

A session spread over several test processes (pytest-xdist, as `scripts/test.sh` runs it) has
one such run: the first process to need it makes the run's folder and starts it, the others find
the folder made and wait for the exit status the run leaves there. The process that named the
folder (the session's controller, or the one process of a plain run) stops the run and removes
the folder when the session ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.helpers.paths import DEV_CORPUS

# The fixtures that read the transcribed dev corpus: a test using one of them runs last.
DEV_FIXTURES = frozenset({"dev_sqlite", "dev_db", "dev_db_copy"})

# Writes the run's exit status once it ends, whichever test process started it (that one may
# have ended before the others stop waiting).
_RECORDING_THE_STATUS = 'status="$1"; shift; "$@"; echo $? > "$status.part" && mv "$status.part" "$status"'


class DevCorpusRun:
    """`qcpipe run` over the dev corpus into a new SQLite file in `folder`, as a user runs the
    nightly job (the embedded model on CPU, int8, two calls at a time; the shipped default rulebook)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = f"sqlite:///{folder / 'dev.db'}"
        self.log = folder / "run.log"
        self._status = folder / "exit-status"
        self._group = folder / "process-group"

    @staticmethod
    def new_folder() -> Path:
        """Where one test session's run will be: a name no other session has, not made yet."""
        return Path(tempfile.gettempdir()) / f"qcpipe-dev-corpus-{uuid.uuid4().hex}"

    def start(self) -> None:
        """Start the run, unless a test process of this session already has (it made the folder)."""
        try:
            self.folder.mkdir()
        except FileExistsError:
            return
        environment = {**os.environ, "QCPIPE_HOME": str(self.folder / "home"), "COLUMNS": "200"}
        environment.pop("QCPIPE_DB", None)
        environment.pop("QCPIPE_CONFIG", None)
        command = [sys.executable, "-m", "qcpipe", "run", str(DEV_CORPUS), "--manifest", str(DEV_CORPUS / "calls.csv"),
                   "--db", self.url, "--device", "cpu", "--compute-type", "int8", "--workers", "2"]
        with open(self.log, "w", encoding="utf-8") as log:
            process = subprocess.Popen(["sh", "-c", _RECORDING_THE_STATUS, "sh", str(self._status), *command],
                                       stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
        self._group.write_text(str(process.pid), encoding="utf-8")

    def wait(self, timeout_s: float = 3600) -> str:
        """The database's URL once every call is done; AssertionError with the run's output if not."""
        deadline = time.monotonic() + timeout_s
        while not self._status.exists():
            assert time.monotonic() < deadline, f"qcpipe run over the dev corpus still running after {timeout_s:.0f} s"
            time.sleep(0.5)
        code = int(self._status.read_text(encoding="utf-8"))
        output = self.log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, f"qcpipe run over the dev corpus exited {code}:\n{output[-4000:]}"
        return self.url

    def stop(self) -> None:
        """End the run if it is still going, and remove its folder."""
        if self._group.exists() and not self._status.exists():
            try:
                os.killpg(int(self._group.read_text(encoding="utf-8")), signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
