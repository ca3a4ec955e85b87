"""Trainer examples: the worst findings of one check, as audio clips with marked transcript excerpts.

For role-play training a trainer wants the clearest cases of a miss: the highest deduction first,
then veto findings, then the most recent calls. Only open or confirmed findings are used; an
overturned finding was a mistake and must never be taught.

Clips are WAV (PCM 16-bit) with every channel of the recording in its original layout (agent
left, customer right as recorded) at the recording's own sample rate. They are read straight
from the file, only the span needed, and nothing is resampled: the trainer hears the call as it
was recorded, a long recording costs no more than a short one, and an 8 kHz telephone clip is
half the size of a 16 kHz one. Files libsndfile cannot read (M4A/AAC …) are decoded with the
pipeline's `load_audio` and written at its 16 kHz.

The library of the web workspace lists the same findings in the same order, page by page
(`worst_findings` with an offset, `count_findings`), shows each one's excerpt without reading
audio (`finding_excerpt`) and serves its clip alone (`clip_wav`); a trainer's marked examples
(`TrainingExample`) can be the query (`marked_only`), and their notes go into the pack.

The evidence: for a phrase said, its characters (marked 【…】 in text, <mark> in HTML); for a
phrase missing, the window the check searched, every line of it marked, since what was said
instead is the evidence. An unannounced silence's clip spans the silence and the words before it.
Transcript text and quotes are masked as `PrivacySettings` says (the audio is not).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote as url_quote
from zoneinfo import ZoneInfo

import numpy as np
import soundfile
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from qcpipe.asr.audio import SAMPLE_RATE, file_sha256, load_audio
from qcpipe.config import PrivacySettings
from qcpipe.errors import AudioError, QcpipeError
from qcpipe.calls import shown_dialogue, shown_quote
from qcpipe.periods import month_bounds
from qcpipe.store import Agent, Call, FindingRecord, FindingStatus
from qcpipe.store.models import TrainingExample
from qcpipe.scoring.records import call_input

DEFAULT_CONTEXT_S = 3.0
USED_STATUSES = (FindingStatus.OPEN, FindingStatus.CONFIRMED)
INDEX_COLUMNS = (
    "call_id", "rule_id", "start", "end", "quote", "clip",
    "agent", "agent_name", "deduction", "veto", "status", "finding_id", "title", "match_kind",
    "started_at", "clip_start", "clip_end", "excerpt", "severity", "training_note", "marked_by",
)
SEVERITIES = ("critical", "major", "minor")
ROLE_LABELS = {"agent": "坐席 agent", "customer": "客户 customer", "unknown": "? unknown"}
_TIME_SLACK_S = 0.0015  # evidence and character times are both rounded to the millisecond


class ExamplesError(QcpipeError):
    """No examples can be made: an unknown check or agent, a bad month, or nothing found."""


@dataclass(frozen=True)
class ExampleQuery:
    """Which findings to use. rule_id: one check, or None for every check. month: 'YYYY-MM' of
    the call's start, in the center's time zone. severity: minor, major or critical.
    marked_only: only the findings a trainer marked as training examples."""

    rule_id: str | None = None
    agent: str | None = None
    month: str | None = None
    limit: int = 10
    context_s: float = DEFAULT_CONTEXT_S
    severity: str | None = None
    marked_only: bool = False


@dataclass(frozen=True)
class ExcerptLine:
    """One utterance in a clip. Times in seconds from the start of the call, and of the clip
    (negative when the utterance began before the clip). marks: [lo, hi) evidence characters."""

    role: str
    start: float
    end: float
    clip_start: float
    clip_end: float
    text: str
    marks: tuple[tuple[int, int], ...]

    def marked(self, before: str = "【", after: str = "】", escape: bool = False) -> str:
        """The text with each evidence range wrapped (escaped for HTML when `escape`)."""
        show = html.escape if escape else str
        pieces, position = [], 0
        for lo, hi in self.marks:
            pieces += [show(self.text[position:lo]), before, show(self.text[lo:hi]), after]
            position = hi
        return "".join(pieces) + show(self.text[position:])

    def pieces(self) -> tuple[tuple[str, bool], ...]:
        """The text cut at the evidence: (text, is evidence) in order, for a template to mark
        each evidence piece with its own element while escaping every piece as text."""
        cut: list[tuple[str, bool]] = []
        position = 0
        for lo, hi in self.marks:
            cut += [(self.text[position:lo], False), (self.text[lo:hi], True)]
            position = hi
        cut.append((self.text[position:], False))
        return tuple((text, evidence) for text, evidence in cut if text)


@dataclass(frozen=True)
class FindingExcerpt:
    """What a finding's clip spans (seconds of the call) and the lines heard in it, evidence marked."""

    clip_start: float
    clip_end: float
    missing: bool
    lines: tuple[ExcerptLine, ...]


@dataclass(frozen=True)
class Example:
    """One finding made into a role-play example: the clip, the excerpt and the finding."""

    rank: int
    finding_id: int
    call_id: str
    rule_id: str
    title: str
    agent: str | None
    agent_name: str | None
    started_at: datetime | None
    deduction: float
    veto: bool
    status: str
    speaker: str
    start: float
    end: float
    quote: str
    phrase: str
    match_kind: str
    note: str
    missing: bool
    clip: str
    excerpt: str
    clip_start: float
    clip_end: float
    sample_rate: int
    channels: int
    lines: tuple[ExcerptLine, ...]
    severity: str = ""
    training_note: str = ""
    marked_by: str = ""


@dataclass(frozen=True)
class SkippedExample:
    """A finding left out because its recording cannot be used, and why (file named)."""

    finding_id: int
    call_id: str
    reason: str


@dataclass(frozen=True)
class ExampleSet:
    """What was written: the examples in rank order, the findings skipped, and the two indexes."""

    folder: Path
    examples: tuple[Example, ...]
    skipped: tuple[SkippedExample, ...]
    index_csv: Path
    index_html: Path


def _matching(query: ExampleQuery, timezone: str, scope: ColumnElement[bool] | None) -> Select[tuple[FindingRecord]]:
    """The open or confirmed findings the query asks for (unordered); `scope` bounds the calls."""
    select_findings = (
        select(FindingRecord)
        .join(Call, FindingRecord.call_pk == Call.id)
        .where(FindingRecord.status.in_(USED_STATUSES))
    )
    if query.rule_id is not None:
        select_findings = select_findings.where(FindingRecord.rule_id == query.rule_id)
    if query.severity is not None:
        select_findings = select_findings.where(FindingRecord.severity == query.severity)
    if query.marked_only:
        select_findings = select_findings.join(TrainingExample, TrainingExample.finding_id == FindingRecord.id)
    if query.agent is not None:
        select_findings = select_findings.join(Agent, Call.agent_id == Agent.id).where(Agent.code == query.agent)
    if query.month is not None:
        first, after = month_bounds(query.month, timezone)
        select_findings = select_findings.where(Call.started_at >= first, Call.started_at < after)
    if scope is not None:
        select_findings = select_findings.where(scope)
    return select_findings


def worst_findings(
    session: Session, query: ExampleQuery, timezone: str, *, offset: int = 0, scope: ColumnElement[bool] | None = None,
) -> list[FindingRecord]:
    """The open or confirmed findings of the query, worst first (highest deduction, veto, most
    recent call), `query.limit` of them from `offset`, with their calls loaded."""
    select_findings = (
        _matching(query, timezone, scope)
        .options(selectinload(FindingRecord.call).selectinload(Call.agent), selectinload(FindingRecord.call).selectinload(Call.segments))
        .order_by(
            FindingRecord.deduction.desc(), FindingRecord.veto.desc(), Call.started_at.desc().nulls_last(),
            Call.call_id, FindingRecord.start_s, FindingRecord.id,  # the id: pages never overlap on ties
        )
        .offset(offset)
        .limit(query.limit)
    )
    return list(session.scalars(select_findings))


def count_findings(session: Session, query: ExampleQuery, timezone: str, *, scope: ColumnElement[bool] | None = None) -> int:
    """How many findings `worst_findings` would list without a limit."""
    return session.scalar(select(func.count()).select_from(_matching(query, timezone, scope).subquery())) or 0


def training_marks(session: Session, finding_ids: Collection[int]) -> dict[int, TrainingExample]:
    """finding id → its training mark, for the findings that have one."""
    if not finding_ids:
        return {}
    rows = session.scalars(select(TrainingExample).where(TrainingExample.finding_id.in_(list(finding_ids))))
    return {row.finding_id: row for row in rows}


def finding_excerpt(finding: FindingRecord, context_s: float = DEFAULT_CONTEXT_S,
                    privacy: PrivacySettings = PrivacySettings()) -> FindingExcerpt:
    """The lines a finding's clip would hold, evidence marked, without reading the recording:
    the span is clamped to the call's stored length (the clip itself, to the file's)."""
    call = finding.call
    marks, missing, start, end = _evidence_span(finding, context_s)
    if call.duration_s:
        end = min(end, call.duration_s)
    return FindingExcerpt(round(start, 3), round(end, 3), missing, _excerpt_lines(call, marks, start, end, privacy))


def clip_wav(finding: FindingRecord, context_s: float = DEFAULT_CONTEXT_S) -> bytes:
    """The finding's clip as the pack holds it (WAV, PCM 16-bit, every channel, the recording's
    rate). Raises AudioError naming the file when the recording cannot be used."""
    _, _, start, end = _evidence_span(finding, context_s)
    samples, rate, _, _ = _read_clip(finding.call, start, end)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def write_examples(
    session: Session,
    query: ExampleQuery,
    folder: Path,
    *,
    timezone: str,
    privacy: PrivacySettings = PrivacySettings(),
    known_rules: Collection[str] = (),
    scope: ColumnElement[bool] | None = None,
) -> ExampleSet:
    """Write a clip and an excerpt per example, `index.csv` and `index.html`, into `folder`.

    `known_rules`: the rulebook's check ids (a check with no findings yet is not unknown).
    `scope`: a WHERE clause on Call bounding the calls used (a web user's view); None: all.
    A finding whose recording is missing, moved, changed or unreadable is skipped and listed.
    Raises ExamplesError for an unknown check or agent, a bad month, or no findings at all.
    """
    if query.limit < 1 or query.context_s < 0:
        raise ExamplesError(f"limit must be 1 or more and context 0 s or more (got {query.limit}, {query.context_s})")
    check_filters(session, query, known_rules)
    findings = worst_findings(session, query, timezone, scope=scope)
    if not findings:
        which = f"'{query.rule_id}' " if query.rule_id else ""
        raise ExamplesError(f"no open or confirmed {which}findings{_filters_text(query)} "
                            "(overturned findings are never used)")
    folder.mkdir(parents=True, exist_ok=True)
    zone = ZoneInfo(timezone)
    marked = training_marks(session, [finding.id for finding in findings])
    examples: list[Example] = []
    skipped: list[SkippedExample] = []
    for rank, finding in enumerate(findings, start=1):
        try:
            examples.append(_write_example(rank, finding, folder, query.context_s, privacy, marked.get(finding.id)))
        except AudioError as exc:
            skipped.append(SkippedExample(finding.id, finding.call.call_id, str(exc)))
    index_csv, index_html = folder / "index.csv", folder / "index.html"
    _write_csv(index_csv, examples, zone)
    index_html.write_text(_html(query, examples, skipped, zone), encoding="utf-8")
    return ExampleSet(folder, tuple(examples), tuple(skipped), index_csv, index_html)


def check_filters(session: Session, query: ExampleQuery, known_rules: Collection[str]) -> None:
    """Raise ExamplesError for a check, agent or severity that does not exist, or a bad month."""
    if query.rule_id is not None:
        seen = set(session.scalars(select(FindingRecord.rule_id).distinct()))
        if query.rule_id not in seen and query.rule_id not in known_rules:
            known = ", ".join(sorted(seen | set(known_rules))) or "none"
            raise ExamplesError(f"unknown check '{query.rule_id}' (known: {known})")
    if query.agent is not None and session.scalar(select(Agent.id).where(Agent.code == query.agent)) is None:
        raise ExamplesError(f"no agent '{query.agent}' in the database")
    if query.severity is not None and query.severity not in SEVERITIES:
        raise ExamplesError(f"unknown severity '{query.severity}' (known: {', '.join(SEVERITIES)})")
    if query.month is not None:
        try:
            month_bounds(query.month, "UTC")
        except QcpipeError as exc:
            raise ExamplesError(str(exc)) from None


def _filters_text(query: ExampleQuery) -> str:
    return (
        (f" of agent {query.agent}" if query.agent else "") + (f" in {query.month}" if query.month else "")
        + (f", {query.severity}" if query.severity else "") + (", marked for training" if query.marked_only else "")
    )


def _evidence_span(finding: FindingRecord, context_s: float) -> tuple[dict[int, list[int]], bool, float, float]:
    """(evidence marks, phrase missing, clip start, clip end before clamping to the recording's end)."""
    call = finding.call
    missing = finding.match_kind == "absent"
    marks = _evidence_marks(call, finding, missing)
    window = [call.segments[i] for i in marks] if missing else []  # a silence's window comes before it
    first = min([finding.start_s, *(seg.start_s for seg in window)])
    last = max([finding.end_s, *(seg.end_s for seg in window)])
    return marks, missing, max(0.0, first - context_s), last + context_s


def _excerpt_lines(call: Call, marks: dict[int, list[int]], clip_start: float, clip_end: float,
                   privacy: PrivacySettings) -> tuple[ExcerptLine, ...]:
    texts = shown_dialogue(call.segments, privacy)
    return tuple(
        ExcerptLine(
            seg.role, seg.start_s, seg.end_s, round(seg.start_s - clip_start, 3), round(seg.end_s - clip_start, 3),
            text, _ranges(marks.get(i, ())),
        )
        for i, (seg, text) in enumerate(zip(call.segments, texts))
        if seg.end_s > clip_start and seg.start_s < clip_end
    )


def _write_example(rank: int, finding: FindingRecord, folder: Path, context_s: float, privacy: PrivacySettings,
                   mark: TrainingExample | None = None) -> Example:
    call = finding.call
    marks, missing, first, last = _evidence_span(finding, context_s)
    samples, rate, clip_start, clip_end = _read_clip(call, first, last)
    stem = _safe(f"{rank:02d}_{call.call_id}_{finding.rule_id}_{finding.id}")
    soundfile.write(str(folder / f"{stem}.wav"), samples, rate, subtype="PCM_16", format="WAV")
    lines = _excerpt_lines(call, marks, clip_start, clip_end, privacy)
    agent = call.agent
    example = Example(
        rank=rank, finding_id=finding.id, call_id=call.call_id, rule_id=finding.rule_id, title=finding.title,
        agent=agent.code if agent else None, agent_name=agent.name if agent else None, started_at=call.started_at,
        deduction=finding.deduction, veto=finding.veto, status=finding.status, speaker=finding.speaker,
        start=finding.start_s, end=finding.end_s, quote=shown_quote(finding.quote, privacy), phrase=finding.phrase,
        match_kind=finding.match_kind, note=finding.note, missing=missing, clip=f"{stem}.wav", excerpt=f"{stem}.txt",
        clip_start=round(clip_start, 3), clip_end=round(clip_end, 3), sample_rate=rate, channels=samples.shape[1],
        lines=lines, severity=finding.severity, training_note=mark.note if mark else "",
        marked_by=mark.marked_by if mark else "",
    )
    (folder / example.excerpt).write_text(_excerpt_text(example), encoding="utf-8")
    return example


def _evidence_marks(call: Call, finding: FindingRecord, missing: bool) -> dict[int, list[int]]:
    """Segment index → the character positions that are the evidence.

    Said: the speaker's characters timed inside the finding's span. Missing: every character
    of the run of the speaker's segments whose texts, joined, are the quote (the window).
    """
    speaker = [i for i, seg in enumerate(call.segments) if seg.role == finding.speaker]
    if missing:
        for first in range(len(speaker)):
            for last in range(first, len(speaker)):
                window = speaker[first : last + 1]
                joined = " ".join(call.segments[i].text for i in window)
                if joined == finding.quote:
                    return {i: list(range(len(call.segments[i].text))) for i in window}
                if len(joined) >= len(finding.quote):
                    break
        return {}
    asr_segments = call_input(call).segments  # same order as call.segments; has char_times()
    marks: dict[int, list[int]] = {}
    for i in speaker:
        seg = call.segments[i]
        if seg.end_s < finding.start_s - _TIME_SLACK_S or seg.start_s > finding.end_s + _TIME_SLACK_S:
            continue
        inside = [
            position for position, (start, end) in enumerate(asr_segments[i].char_times())
            if start >= finding.start_s - _TIME_SLACK_S and end <= finding.end_s + _TIME_SLACK_S
        ]
        if inside:
            marks[i] = inside
    return marks


def _ranges(positions: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Sorted character positions as [lo, hi) runs."""
    runs: list[list[int]] = []
    for position in positions:
        if runs and runs[-1][1] == position:
            runs[-1][1] += 1
        else:
            runs.append([position, position + 1])
    return tuple((lo, hi) for lo, hi in runs)


def _read_clip(call: Call, start: float, end: float) -> tuple[np.ndarray, int, float, float]:
    """(samples (n, channels), rate, start, end) of [start, end] clamped to the recording.

    Raises AudioError naming the file when it is missing, moved, changed since it was
    transcribed (another recording's clip would be wrong evidence), or unreadable.
    """
    path = call.recording_path
    if not path.is_file():
        raise AudioError(path, f"audio file missing or moved (call {call.call_id})")
    if call.content_hash and file_sha256(path) != call.content_hash:
        raise AudioError(path, f"audio file changed since call {call.call_id} was transcribed (sha256 differs)")
    try:
        with soundfile.SoundFile(str(path)) as recording:
            rate, frames = recording.samplerate, recording.frames
            first, last = min(round(start * rate), frames), min(round(end * rate), frames)
            recording.seek(first)
            samples = recording.read(last - first, dtype="float32", always_2d=True)
    except soundfile.LibsndfileError:
        audio = load_audio(path)  # FFmpeg-only formats: the pipeline's decoder, at its 16 kHz
        rate, frames = SAMPLE_RATE, audio.samples.shape[1]
        first, last = min(round(start * rate), frames), min(round(end * rate), frames)
        samples = np.ascontiguousarray(audio.samples[:, first:last].T)
    if len(samples) == 0:
        raise AudioError(path, f"the finding lies beyond the end of the recording ({frames / rate:.1f} s)")
    return samples, rate, first / rate, (first + len(samples)) / rate


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _finding_text(example: Example) -> str:
    veto = " veto" if example.veto else ""
    if example.missing:
        return (f"missing phrase “{example.phrase}” ({example.speaker}, {example.start:.2f}–{example.end:.2f} s): "
                "the whole window marked below is the evidence; the phrase is in none of it")
    return (f"{example.speaker} said “{example.quote}” at {example.start:.2f}–{example.end:.2f} s "
            f"(phrase {example.phrase}, {example.match_kind}){veto}")


def _heading(example: Example, zone: ZoneInfo) -> str:
    who = " ".join(filter(None, (example.agent, example.agent_name))) or "agent unknown"
    when = example.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if example.started_at else "time unknown"
    return (f"#{example.rank} {example.call_id} · {example.rule_id} {example.title} · −{example.deduction:g}"
            f"{' veto' if example.veto else ''} · {example.status} · {who} · {when}")


def _excerpt_text(example: Example) -> str:
    lines = [
        f"{example.call_id} · {example.rule_id} {example.title} · finding {example.finding_id}",
        _finding_text(example),
        f"clip {example.clip}: {example.clip_start:.2f}–{example.clip_end:.2f} s of the call; "
        "times below are clip time | call time",
        "",
    ]
    lines += [f"[{line.clip_start:6.2f} | {line.start:7.2f}] {ROLE_LABELS.get(line.role, line.role)}: {line.marked()}"
              for line in example.lines]
    if example.note:
        lines += ["", f"note: {example.note}"]
    if example.marked_by:
        lines += ["", f"training note ({example.marked_by}): {example.training_note}"]
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, examples: Sequence[Example], zone: ZoneInfo) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INDEX_COLUMNS)
        for e in examples:
            started = e.started_at.astimezone(zone).isoformat() if e.started_at else ""
            writer.writerow([
                e.call_id, e.rule_id, e.start, e.end, e.quote, e.clip, e.agent or "", e.agent_name or "",
                f"{e.deduction:g}", str(e.veto).lower(), e.status, e.finding_id, e.title, e.match_kind, started,
                e.clip_start, e.clip_end, e.excerpt, e.severity, e.training_note, e.marked_by,
            ])


def _html(query: ExampleQuery, examples: Sequence[Example], skipped: Sequence[SkippedExample], zone: ZoneInfo) -> str:
    title = html.escape(f"{query.rule_id or 'all checks'}: worst examples{_filters_text(query)}")
    parts = [
        "<!doctype html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto} section{border-top:1px solid #ccc;"
        "padding:.5em 0} table{border-collapse:collapse} td{padding:.1em .5em;vertical-align:top}"
        " mark{background:#fd6} .t{color:#666;white-space:nowrap}</style>",
        f"</head><body><h1>{title}</h1>",
    ]
    for e in examples:
        rows = "".join(
            f'<tr><td class="t">{line.clip_start:.2f}</td><td class="t">{line.start:.2f}</td>'
            f"<td>{html.escape(ROLE_LABELS.get(line.role, line.role))}</td>"
            f"<td>{line.marked('<mark>', '</mark>', escape=True)}</td></tr>"
            for line in e.lines
        )
        parts += [
            f'<section id="example-{e.rank}"><h2>{html.escape(_heading(e, zone))}</h2>',
            f'<audio controls preload="none" src="{url_quote(e.clip)}"></audio>',
            f"<p>{html.escape(_finding_text(e))}</p>",
            f"<p>clip {e.clip_start:.2f}–{e.clip_end:.2f} s of the call · "
            f'<a href="{url_quote(e.excerpt)}">excerpt</a></p>',
            f'<table><tr><th>clip s</th><th>call s</th><th>who</th><th>said</th></tr>{rows}</table>',
            f"<p>{html.escape(e.note)}</p>" if e.note else "",
            f'<p class="training">{html.escape(f"培训备注 training note ({e.marked_by}): {e.training_note}")}</p>'
            if e.marked_by else "",
            "</section>",
        ]
    if skipped:
        items = "".join(f"<li>{html.escape(f'{s.call_id} (finding {s.finding_id}): {s.reason}')}</li>" for s in skipped)
        parts.append(f"<section><h2>Skipped</h2><ul>{items}</ul></section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
