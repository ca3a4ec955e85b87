"""The few exception types qcpipe raises. Only the CLI's `main()` turns them into messages and exit codes."""

from __future__ import annotations

import os
from pathlib import Path


def shown_path(path: Path | str) -> str:
    """A file name as a person can read it, and as it can be stored as text.

    Linux names are bytes; one that is not UTF-8 (a share written by a Chinese Windows system
    uses GBK) is decoded as GB18030 when it is valid there, else shown with its odd bytes
    escaped (caf\\xe9.wav).
    """
    text = str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = os.fsencode(text)
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")


class QcpipeError(Exception):
    """Base class of every error qcpipe reports to a user: the message is the whole report."""

    exit_code = 1


class UsageError(QcpipeError):
    """A command given options that do not go together (exit code 2, as for a bad option)."""

    exit_code = 2


class AudioError(QcpipeError):
    """An audio file could not be read or has no usable content."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{shown_path(self.path)}: {cause}")


class ManifestError(QcpipeError):
    """The CTI manifest is unreadable or malformed."""

    def __init__(self, path: Path | str, cause: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.cause = cause
        where = f"{shown_path(self.path)}, line {line}" if line else shown_path(self.path)
        super().__init__(f"{where}: {cause}")


class ModelError(QcpipeError):
    """The ASR model is missing, corrupt or cannot be loaded."""


class ConfigError(QcpipeError):
    """A configuration file or option is invalid."""


class StoreError(QcpipeError):
    """The database cannot be used: not a database (damaged), unreachable, locked by another
    program for too long, full, read-only.

    Nothing is half-written (each call is one transaction); the run stops, since no later
    call could be stored either, and the same command resumes once the cause is fixed.
    """


class NotFoundError(QcpipeError):
    """A requested call (or other record) does not exist in the database."""
