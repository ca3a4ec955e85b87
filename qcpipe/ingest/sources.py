"""Find the calls to process: from the CTI manifest when there is one, else from the folder.

CTI/ACD systems export the manifest as CSV with the columns
`call_id,audio,agent_id,agent_name,team,started_at,queue_wait_s` (`audio` relative to the
manifest). Chinese systems export UTF-8 (with or without BOM) or GBK/GB18030; both are read.
Only `call_id` and `audio` are required; unknown columns are kept as extra metadata.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from qcpipe.asr.audio import AUDIO_EXTENSIONS
from qcpipe.errors import ManifestError

REQUIRED_COLUMNS = ("call_id", "audio")
KNOWN_COLUMNS = ("call_id", "audio", "agent_id", "agent_name", "team", "started_at", "queue_wait_s")


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


def read_manifest(path: Path | str, timezone: str = "Asia/Shanghai") -> list[CallSource]:
    """Parse a CTI manifest. Raises ManifestError with the line number of the first bad row.

    A `started_at` without a UTC offset is read in the center's `timezone`.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(path, f"cannot read: {exc.strerror or exc}") from None
    text = _decode(path, raw)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ManifestError(path, f"missing column(s) {', '.join(missing)}; header is {','.join(header) or '(empty)'}", line=1)
    reader.fieldnames = header
    base = path.parent
    sources: list[CallSource] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        call_id, audio = row.get("call_id", ""), row.get("audio", "")
        if not call_id or not audio:
            raise ManifestError(path, "empty call_id or audio", line=line)
        if call_id in seen:
            raise ManifestError(path, f"duplicate call_id {call_id} (first on line {seen[call_id]})", line=line)
        seen[call_id] = line
        sources.append(
            CallSource(
                call_id=call_id,
                audio_path=(base / audio) if not Path(audio).is_absolute() else Path(audio),
                agent_id=row.get("agent_id") or None,
                agent_name=row.get("agent_name") or None,
                team=row.get("team") or None,
                started_at=_parse_time(path, line, row.get("started_at", ""), ZoneInfo(timezone)),
                queue_wait_s=_parse_float(path, line, "queue_wait_s", row.get("queue_wait_s", "")),
                extra={k: v for k, v in row.items() if k not in KNOWN_COLUMNS and v},
            )
        )
    return sources


def discover(root: Path | str) -> Iterator[CallSource]:
    """Audio files under `root` (a folder, searched recursively, or one file); call id = file stem."""
    root = Path(root)
    if root.is_file():
        yield CallSource(call_id=root.stem, audio_path=root)
        return
    if not root.is_dir():
        raise ManifestError(root, "no such file or folder")
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
            yield CallSource(call_id=path.stem, audio_path=path)


def sources_for(path: Path | str, manifest: Path | str | None = None, timezone: str = "Asia/Shanghai") -> list[CallSource]:
    """The calls of one run: the manifest's rows (limited to `path`), or every audio file under it."""
    if manifest is None:
        return list(discover(path))
    rows = read_manifest(manifest, timezone)
    scope = Path(path).resolve()
    if scope.is_file():
        return [s for s in rows if s.audio_path.resolve() == scope]
    return [s for s in rows if scope == s.audio_path.resolve().parent or scope in s.audio_path.resolve().parents]


def _decode(path: Path, raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ManifestError(path, "not UTF-8 or GBK/GB18030 text")


def _parse_time(path: Path, line: int, value: str, zone: ZoneInfo) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ManifestError(path, f"started_at '{value}' is not an ISO 8601 time", line=line) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _parse_float(path: Path, line: int, column: str, value: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ManifestError(path, f"{column} '{value}' is not a number", line=line) from None
