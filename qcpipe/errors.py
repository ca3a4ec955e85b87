"""The few exception types qcpipe raises. Only the CLI turns them into messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class QcpipeError(Exception):
    """Base class of every error qcpipe reports to a user."""


class AudioError(QcpipeError):
    """An audio file could not be read or has no usable content."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class ManifestError(QcpipeError):
    """The CTI manifest is unreadable or malformed."""

    def __init__(self, path: Path | str, cause: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.cause = cause
        where = f"{self.path}, line {line}" if line else str(self.path)
        super().__init__(f"{where}: {cause}")


class ModelError(QcpipeError):
    """The ASR model is missing, corrupt or cannot be loaded."""


class ConfigError(QcpipeError):
    """A configuration file or option is invalid."""


class NotFoundError(QcpipeError):
    """A requested call (or other record) does not exist in the database."""
