"""The files qcpipe ships: the default rulebook and the annotated settings file.

They are package data, so an installed wheel has them as a source checkout does (`configs/` at
the top of the checkout links here). A call center copies one, edits it and points qcpipe at
the copy (`--rules`, `--config`); the shipped files are never edited in place.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEFAULT_RULEBOOK_NAME = "rules/default.yaml"
SETTINGS_TEMPLATE_NAME = "qcpipe.toml"


def shipped(name: str) -> Path:
    """The path of a shipped file, e.g. `shipped("rules/default.yaml")`."""
    return Path(str(files(__name__).joinpath(name)))


def default_rulebook() -> Path:
    return shipped(DEFAULT_RULEBOOK_NAME)
