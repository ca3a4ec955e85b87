"""Rulebook versions: the rulebook in force, publishing a new one, and the history.

    active = active_rulebook(session, settings.rules)   # the newest published version, else the file
    publish(session, yaml_text, by="lead", comment="问候语扣 8 分", now=utcnow(), base_number=active.number)

The newest `RulebookVersion` in the database is the rulebook in force; with none published, the
file of the settings (`[scoring] rules`, else the shipped default) is. A command given `--rules FILE`
uses that file instead, for that command only. Publishing validates the YAML exactly as
`qcpipe rules check` does and refuses a draft made from a version that is no longer the newest:
two leads editing at once, the second is told, rather than silently undoing the first's change.
The first publish stores the file in force as version 1, so that the history starts from what
the calls were scored with. Versions are never changed or deleted.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qcpipe import audit
from qcpipe.errors import NotFoundError, QcpipeError
from qcpipe.scoring.rulebook import DEFAULT_RULEBOOK, Rulebook, load_rulebook, parse_rulebook
from qcpipe.store.models import RulebookVersion

SEEDED_COMMENT = "发布前在用的规则文件 · the rulebook file in force before the first publish"
MAX_COMMENT_CHARS = 2000


class RulebookConflict(QcpipeError):
    """The draft was made from a version that is no longer the newest: someone published since."""


class RulebookUnchanged(QcpipeError):
    """The draft is the rulebook already in force: there is nothing to publish."""


@dataclass(frozen=True)
class VersionInfo:
    """A published version, without its text."""

    number: int
    content_hash: str
    comment: str
    published_by: str
    published_at: datetime


@dataclass(frozen=True)
class VersionText:
    """A published version and its YAML."""

    info: VersionInfo
    yaml: str


@dataclass(frozen=True)
class ActiveRulebook:
    """The rulebook in force and where it comes from.

    version: the published version, or None while none is (the rulebook is then the file `path`).
    """

    rulebook: Rulebook
    yaml: str
    version: VersionInfo | None
    path: Path | None

    @property
    def number(self) -> int:
        """The version number a draft made from this rulebook is based on (0: the file, none published)."""
        return self.version.number if self.version else 0


def normalized(yaml_text: str) -> str:
    """The YAML as stored and hashed: a browser's form sends a textarea's lines ending in CRLF."""
    return yaml_text.replace("\r\n", "\n").replace("\r", "\n")


def check_draft(yaml_text: str, source: str = "draft") -> Rulebook:
    """Validate rulebook YAML as `qcpipe rules check` does; RulebookError names the line."""
    return _parsed(normalized(yaml_text), source)


# Validating a full rulebook takes a second or more (every phrase's pinyin); the editor reads the
# same few texts again and again (the one in force, the draft being validated and tried).
# A Rulebook is immutable, so one parse serves them all.
@lru_cache(maxsize=8)
def _parsed(text: str, source: str) -> Rulebook:
    return parse_rulebook(text, source=source)


def version_source(number: int) -> str:
    """How a published version is named in messages and on the rulebook (`Rulebook.source`)."""
    return f"rulebook version {number}"


def _info(row: RulebookVersion) -> VersionInfo:
    return VersionInfo(number=row.number, content_hash=row.content_hash, comment=row.comment,
                       published_by=row.published_by, published_at=row.published_at)


def _newest(session: Session) -> RulebookVersion | None:
    return session.scalars(select(RulebookVersion).order_by(RulebookVersion.number.desc()).limit(1)).first()


def active_rulebook(session: Session, file: str | Path = DEFAULT_RULEBOOK) -> ActiveRulebook:
    """The rulebook in force: the newest published version, else `file` (the settings' rulebook)."""
    newest = _newest(session)
    if newest is None:
        return file_rulebook(file)
    rulebook = _parsed(newest.yaml, version_source(newest.number))
    return ActiveRulebook(rulebook=rulebook, yaml=newest.yaml, version=_info(newest), path=None)


def file_rulebook(file: str | Path) -> ActiveRulebook:
    """The rulebook of a file, in force while no version is published."""
    path = Path(file)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        load_rulebook(path)  # raises the RulebookError that says why
        raise
    return ActiveRulebook(rulebook=_parsed(text, str(path)), yaml=text, version=None, path=path)


def list_versions(session: Session) -> list[VersionInfo]:
    """Every published version, newest first."""
    rows = session.scalars(select(RulebookVersion).order_by(RulebookVersion.number.desc()))
    return [_info(row) for row in rows]


def get_version(session: Session, number: int) -> VersionText:
    """One published version with its YAML; NotFoundError if there is no such version."""
    row = session.scalars(select(RulebookVersion).where(RulebookVersion.number == number)).first()
    if row is None:
        raise NotFoundError(f"no rulebook version {number}")
    return VersionText(info=_info(row), yaml=row.yaml)


def version_rulebook(version: VersionText) -> Rulebook:
    """The rulebook a stored version holds."""
    return _parsed(version.yaml, version_source(version.info.number))


def publish(
    session: Session,
    yaml_text: str,
    by: str,
    comment: str,
    now: datetime,
    base_number: int,
    *,
    file: str | Path = DEFAULT_RULEBOOK,
) -> VersionInfo:
    """Store `yaml_text` as the next version, in force from now; audit event "rulebook.publish".

    base_number: the version the draft was edited from (0: the file, while none is published).
    file: the rulebook in force while none is published; the first publish keeps it as version 1.
    Raises RulebookError (naming the line) for YAML `qcpipe rules check` refuses, RulebookConflict
    when another version was published since `base_number`, RulebookUnchanged for a draft equal to
    the rulebook in force.
    """
    text = normalized(yaml_text)
    newest = _newest(session)
    current = newest.number if newest else 0
    if base_number != current:
        who = f" by {newest.published_by} at {newest.published_at:%Y-%m-%d %H:%M} UTC" if newest else ""
        raise RulebookConflict(
            f"规则库已被他人更新 · the rulebook changed while you edited it: version {current} was published{who}, "
            f"your draft is based on version {base_number}. Reload, redo your change on version {current}, "
            "and publish again.")
    rulebook = _parsed(text, "draft")
    comment = comment.strip()[:MAX_COMMENT_CHARS]
    if not comment:
        raise QcpipeError("请说明改动 · say what changed and why in the comment")
    in_force = active_rulebook(session, file)
    if rulebook.content_hash == in_force.rulebook.content_hash:
        raise RulebookUnchanged("没有改动 · the draft is the rulebook in force: nothing to publish")
    number = current + 1
    if newest is None:  # the history starts from what the calls were scored with
        session.add(RulebookVersion(number=number, yaml=in_force.yaml, content_hash=in_force.rulebook.content_hash,
                                    comment=SEEDED_COMMENT, published_by=by[:64], published_at=now))
        number += 1
    row = RulebookVersion(number=number, yaml=text, content_hash=rulebook.content_hash, comment=comment,
                          published_by=by[:64], published_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # another publish of the same number won the race
        raise RulebookConflict(
            f"规则库已被他人更新 · another version {number} was published at the same moment: reload and try again"
        ) from exc
    audit.record(session, by, "rulebook.publish", "rulebook_version", number,
                 f"{rulebook.content_hash[:12]} · {comment}", at=now)
    return _info(row)


def newest_number(session: Session) -> int:
    """The newest published version's number (0: none published)."""
    return session.scalar(select(func.max(RulebookVersion.number))) or 0


def yaml_diff(before: str, after: str, before_name: str, after_name: str) -> list[str]:
    """The unified diff of two rulebook texts, line by line (no trailing newlines)."""
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm="", n=2))
