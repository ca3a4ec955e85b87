"""Find the calls to process: from the CTI manifest when there is one, else from the folder.

CTI/ACD systems export the manifest as CSV with the columns
`call_id,audio,agent_id,agent_name,team,started_at,queue_wait_s` (`audio` relative to the
manifest). Chinese systems export UTF-8 (with or without BOM) or GBK/GB18030; both are read.
Only `call_id` and `audio` are required; unknown columns are kept as extra metadata.

Both the manifest and the folder are streamed: a night of 10,000 recordings is never held in
memory as a list. A manifest is read twice: once to check every row (a malformed manifest
stops the run before any work, naming the line), then again, one call at a time, as the
batch asks for them.
"""

from __future__ import annotations

import codecs
import csv
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from qcpipe.asr.audio import AUDIO_EXTENSIONS
from qcpipe.errors import ManifestError, shown_path
from qcpipe.periods import DEFAULT_TIMEZONE
from qcpipe.store.models import Agent, Call, Team

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("call_id", "audio")
KNOWN_COLUMNS = ("call_id", "audio", "agent_id", "agent_name", "team", "started_at", "queue_wait_s")
_ENCODINGS = ("utf-8-sig", "gb18030")
# The longest value the database holds (PostgreSQL refuses a longer one; SQLite would keep it).
_LONGEST = {
    "call_id": Call.__table__.c.call_id.type.length,
    "agent_id": Agent.__table__.c.code.type.length,
    "agent_name": Agent.__table__.c.name.type.length,
    "team": Team.__table__.c.name.type.length,
}


@dataclass(frozen=True)
class CallSource:
    """One recording to process and what the CTI system knows about it."""

    call_id: str
    audio_path: Path
    agent_id: str | None = None
    agent_name: str | None = None
    team: str | None = None
    started_at: datetime | None = None
    queue_wait_s: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    line: int | None = None  # the manifest line it came from


class Manifest:
    """A CTI manifest, checked row by row when opened; iterating reads it again, streamed.

    Raises ManifestError with the line number of the first bad row: unreadable or not text,
    a required column missing, an empty call_id or audio, a time or number that does not
    parse, a value longer than the database holds or with a NUL character in it, or one
    call_id listed twice for different calls. A row repeated exactly (CTI
    exports do re-list calls) is processed once, with a warning.
    `count`: the calls it lists; `warnings`: the rows it left out, and why.
    """

    def __init__(self, path: Path | str, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.path = Path(path)
        self.zone = ZoneInfo(timezone)
        self.encoding = _encoding_of(self.path)
        self.warnings: list[str] = []
        self._repeated: set[int] = set()
        seen: dict[str, tuple[int, int]] = {}  # call_id → (line, fingerprint): small, however long
        for source in self._rows():
            first = seen.get(source.call_id)
            if first is None:
                seen[source.call_id] = (source.line, _fingerprint(source))  # type: ignore[assignment]
            elif first[1] == _fingerprint(source):
                self._repeated.add(source.line)  # type: ignore[arg-type]
                self.warnings.append(f"{shown_path(self.path)}, line {source.line}: call {source.call_id} "
                                     f"repeats line {first[0]} exactly; processed once")
            else:
                raise ManifestError(self.path, f"duplicate call_id {source.call_id} (first on line {first[0]}) "
                                    "for a different recording or metadata", line=source.line)
        self.count = len(seen)

    def __iter__(self) -> Iterator[CallSource]:
        return (source for source in self._rows() if source.line not in self._repeated)

    def __len__(self) -> int:
        return self.count

    def _rows(self) -> Iterator[CallSource]:
        try:
            handle = open(self.path, encoding=self.encoding, newline="")
        except OSError as exc:
            raise ManifestError(self.path, f"cannot read: {exc.strerror or exc}") from None
        with handle:
            reader = csv.DictReader(handle)
            try:
                header = [h.strip() for h in (reader.fieldnames or [])]
            except csv.Error as exc:
                raise ManifestError(self.path, f"not CSV: {exc}", line=1) from None
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise ManifestError(
                    self.path, f"missing column(s) {', '.join(missing)}; header is {','.join(header) or '(empty)'}",
                    line=1,
                )
            reader.fieldnames = header
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ManifestError(self.path, f"not CSV: {exc}", line=reader.line_num) from None
                source = self._source(reader.line_num, row)
                if source is not None:
                    yield source

    def _source(self, line: int, row: dict) -> CallSource | None:
        if None in row:
            raise ManifestError(self.path, f"{len(row) - 1 + len(row[None])} fields, the header has {len(row) - 1}",
                                line=line)
        row = {k: (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            return None
        call_id, audio = row.get("call_id", ""), row.get("audio", "")
        if not call_id or not audio:
            raise ManifestError(self.path, "empty call_id or audio", line=line)
        for column, longest in _LONGEST.items():
            if len(row.get(column, "")) > longest:
                raise ManifestError(self.path, f"{column} is {len(row[column])} characters long; the database holds "
                                    f"{longest} at most", line=line)
        if any("\x00" in value for value in row.values()):
            raise ManifestError(self.path, "a NUL character in a field (a binary export?)", line=line)
        return CallSource(
            call_id=call_id,
            audio_path=(self.path.parent / audio) if not Path(audio).is_absolute() else Path(audio),
            agent_id=row.get("agent_id") or None,
            agent_name=row.get("agent_name") or None,
            team=row.get("team") or None,
            started_at=self._time(line, row.get("started_at", "")),
            queue_wait_s=self._number(line, "queue_wait_s", row.get("queue_wait_s", "")),
            extra={k: v for k, v in row.items() if k not in KNOWN_COLUMNS and v},
            line=line,
        )

    def _time(self, line: int, value: str) -> datetime | None:
        """A `started_at` without a UTC offset is read in the center's time zone."""
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ManifestError(self.path, f"started_at '{value}' is not an ISO 8601 time", line=line) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)

    def _number(self, line: int, column: str, value: str) -> float | None:
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            raise ManifestError(self.path, f"{column} '{value}' is not a number", line=line) from None


def read_manifest(path: Path | str, timezone: str = DEFAULT_TIMEZONE) -> Manifest:
    """Open and check a CTI manifest (see `Manifest`)."""
    return Manifest(path, timezone)


def discover(root: Path | str, warnings: list[str] | None = None) -> Iterator[CallSource]:
    """Audio files under `root` (a folder, searched recursively, or one file); call id = file stem.

    Streamed, each folder's entries in name order. Symlinked folders are followed once (a link
    back up the tree is noted in `warnings`, not walked forever); a folder that cannot be
    listed is noted too. An entry named like audio is yielded even when it cannot be opened
    (a broken or looping link, no permission): the batch records it as failed, with the reason.
    """
    root = Path(root)
    if root.is_file():
        yield CallSource(call_id=call_id_of(root), audio_path=root)
        return
    if not root.is_dir():
        raise ManifestError(root, "no such file or folder")
    notes = warnings if warnings is not None else []
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in visited:
                notes.append(f"{shown_path(folder)}: folder already searched (a symlink loop); skipped")
                continue
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            notes.append(f"{shown_path(folder)}: cannot list: {exc.strerror or exc}")
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            if _is_dir(entry):
                subfolders.append(path)
            elif path.suffix.lower() in AUDIO_EXTENSIONS:
                yield CallSource(call_id=call_id_of(path), audio_path=path)
        stack.extend(reversed(subfolders))


class RunSources:
    """The calls of one run: the manifest's rows under `path`, or every audio file under it.

    Iterable more than once (each pass streams the folder or manifest again); `len()` counts
    them with a pass of its own. `warnings`: what was left out and why (after a pass).
    """

    def __init__(self, path: Path, manifest: Manifest | None = None) -> None:
        self.path = path
        self.manifest = manifest
        self._notes: list[str] = []

    @property
    def warnings(self) -> list[str]:
        return (self.manifest.warnings if self.manifest is not None else []) + self._notes

    def __iter__(self) -> Iterator[CallSource]:
        if self.manifest is None:
            self._notes = []
            yield from discover(self.path, self._notes)
            return
        scope = os.path.realpath(self.path)
        inside = scope.rstrip(os.sep) + os.sep
        single = os.path.isfile(scope)
        for source in self.manifest:
            audio = os.path.realpath(source.audio_path)
            if audio == scope or (not single and audio.startswith(inside)):
                yield source

    def __len__(self) -> int:
        return sum(1 for _ in self)


def sources_for(path: Path | str, manifest: Path | str | None = None, timezone: str = DEFAULT_TIMEZONE) -> RunSources:
    """The calls of one run. A manifest is checked now (ManifestError stops the run before any
    work); a missing folder raises ManifestError too."""
    path = Path(path)
    if not path.exists():
        raise ManifestError(path, "no such file or folder")
    return RunSources(path, read_manifest(manifest, timezone) if manifest is not None else None)


def call_id_of(path: Path) -> str:
    """The call id of a file found without a manifest: its stem, as a person can read it.

    A name that is not UTF-8 (a share written by a Chinese Windows system uses GBK) is decoded
    as GB18030 when it is valid there, else shown with its odd bytes escaped (\\xe9).
    """
    return shown_path(Path(path.stem))


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; a loop is caught by the visited set
    except OSError:
        return False


def _fingerprint(source: CallSource) -> int:
    """What makes two manifest rows the same call: everything but the line they are on."""
    return hash((os.path.realpath(source.audio_path), source.agent_id, source.agent_name, source.team,
                 source.started_at, source.queue_wait_s, tuple(sorted(source.extra.items()))))


def _encoding_of(path: Path) -> str:
    """The first of UTF-8 and GB18030 the whole file decodes in (read in pieces, not whole)."""
    for encoding in _ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as handle:
                while piece := handle.read(1 << 16):
                    decoder.decode(piece)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
        except OSError as exc:
            raise ManifestError(path, f"cannot read: {exc.strerror or exc}") from None
    raise ManifestError(path, "not UTF-8 or GBK/GB18030 text")
