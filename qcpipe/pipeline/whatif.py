"""What-if: a draft rulebook run over the stored transcripts of a period, without saving anything,
and the difference it would make against what is stored now.

    result = preview(database, draft, period, pass_line=80.0, progress=progress)

Each call is re-scored as `qcpipe score` would do it (`score_call`, then `save_score` on an
in-memory copy of the call, so that a monitor's confirmed or overturned decision is kept and "the
same finding" is the same check, phrase and second, as there), and the copy is thrown away.

Only the checks the draft changes are run: a check left exactly as it was in the rulebook a call
was scored with (a published version, the settings' file or the shipped default, known by the
call's `rulebook_hash`) would find what it found then, so its stored findings stand as they are.
A draft that changes one deduction and adds one phrase runs two checks, not thirteen.

A month of a large center is 100,000 calls: they are read in chunks of ids with only the columns
scoring reads (no ORM objects, no identity map), and the chunks are shared by a pool of processes
when there are enough of them to pay for starting it. What comes back from a chunk is small: the
scores before and after, and the findings added and removed per check with a few quotes.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import fmean
from typing import Any, cast

import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from qcpipe.periods import Period, previous_month
from qcpipe.reports.monthly import MonthPoint, ScoreFlag, bottom_tenth, monthly_history, one_decimal, score_flags
from qcpipe.scoring import DEFAULT_RULEBOOK, Rulebook, parse_rulebook, score_call
from qcpipe.scoring.records import call_input, save_score, update_call_score
from qcpipe.store import Database
from qcpipe.store.models import (
    Agent,
    Call,
    CallStatus,
    FindingRecord,
    FindingStatus,
    RulebookVersion,
    Segment,
    SpeechRegion,
    Team,
    UnheardSpan,
)

CHUNK = 500  # calls read and scored together: four queries a chunk
DRAFT = "draft"  # how errors name the rulebook previewed: "draft, line 12: …"
POOL_FROM = 2000  # fewer calls are scored in this process: starting a pool costs more than it saves
EXAMPLES = 3  # quotes kept per check, of the findings added and of those removed
CALLS_LISTED = 200  # the calls whose score changes most, listed by call id (all are counted)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FindingExample:
    """A finding the draft adds or removes, to show what the change means."""

    call_id: str
    start: float
    quote: str
    phrase: str


@dataclass
class CheckChange:
    """The findings of one check that the draft would add and remove."""

    added: int = 0
    removed: int = 0
    added_examples: list[FindingExample] = field(default_factory=list)
    removed_examples: list[FindingExample] = field(default_factory=list)

    def merge(self, other: CheckChange) -> None:
        self.added += other.added
        self.removed += other.removed
        self.added_examples += other.added_examples[:EXAMPLES - len(self.added_examples)]
        self.removed_examples += other.removed_examples[:EXAMPLES - len(self.removed_examples)]


@dataclass(frozen=True)
class CallChange:
    """A call whose score the draft changes (`before` None: not scored yet)."""

    call_id: str
    before: float | None
    after: float


@dataclass(frozen=True)
class AgentChange:
    """An agent whose score over the period (the mean of the calls' scores, to one decimal, as
    the monthly report computes it) or flags the draft changes."""

    agent_id: str
    agent_name: str | None
    team: str | None
    calls: int
    score_before: float | None
    score_after: float
    flags_before: tuple[ScoreFlag, ...]
    flags_after: tuple[ScoreFlag, ...]


@dataclass
class ChunkResult:
    """What one chunk of calls gives back (small: it crosses process boundaries)."""

    calls: int = 0
    scores: list[tuple[int, float | None, float]] = field(default_factory=list)  # agent pk, before, after
    changed: list[CallChange] = field(default_factory=list)
    checks: dict[str, CheckChange] = field(default_factory=lambda: defaultdict(CheckChange))


@dataclass(frozen=True)
class PreviewResult:
    """The difference a draft rulebook makes over a period, nothing saved."""

    period: Period
    rulebook_hash: str
    calls_scored: int
    calls_changed: int
    findings_added: int
    findings_removed: int
    per_check: dict[str, CheckChange]
    calls: tuple[CallChange, ...]  # the CALLS_LISTED largest changes, largest first
    agents_changed: tuple[AgentChange, ...]
    wall_s: float
    workers: int
    titles: dict[str, str] = field(default_factory=dict)  # the draft's check titles, by id

    def as_json(self) -> dict[str, Any]:
        """The API's answer: the issue's keys, then what the page shows besides."""

        def examples(items: Iterable[FindingExample]) -> list[dict[str, Any]]:
            return [{"call_id": e.call_id, "start": e.start, "quote": e.quote, "phrase": e.phrase} for e in items]

        return {
            "calls_scored": self.calls_scored,
            "calls_changed": self.calls_changed,
            "findings_added": self.findings_added,
            "findings_removed": self.findings_removed,
            "per_check": {rule_id: {"added": c.added, "removed": c.removed, "title": self.titles.get(rule_id, rule_id),
                                    "added_examples": examples(c.added_examples),
                                    "removed_examples": examples(c.removed_examples)}
                          for rule_id, c in self.per_check.items()},
            "agents_changed": [{"agent_id": a.agent_id, "score_before": a.score_before, "score_after": a.score_after,
                                "agent_name": a.agent_name, "team": a.team, "calls": a.calls,
                                "flags_before": [str(f) for f in a.flags_before],
                                "flags_after": [str(f) for f in a.flags_after]}
                               for a in self.agents_changed],
            "calls": [{"call_id": c.call_id, "score_before": c.before, "score_after": c.after} for c in self.calls],
            "date_from": self.period.start.isoformat() if self.period.start else None,
            "date_to": self.period.end.isoformat() if self.period.end else None,
            "rulebook_hash": self.rulebook_hash,
            "wall_s": round(self.wall_s, 2),
        }


def preview(
    database: Database,
    draft: str | bytes,
    period: Period,
    *,
    pass_line: float,
    parsed: Rulebook | None = None,
    rulebook_files: Iterable[Path] = (),
    reuse_unchanged: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
) -> PreviewResult:
    """Re-score the transcribed calls started in `period` with `draft` and compare with what is
    stored, writing nothing.

    draft: the rulebook's YAML (a `RulebookError` names its line; the text, not a parsed rulebook,
        is what worker processes are given).
    parsed: the draft already parsed from that YAML, when the caller has validated it.
    rulebook_files: rulebook files calls may have been scored with (the settings' `rules`),
        besides the shipped default and every published version.
    reuse_unchanged: a check the draft leaves exactly as it was in the rulebook a call was scored
        with (same fields, same matching, evidence and phrase sets) finds what it found then: its
        stored findings are taken as they are and only the checks the draft changes are run. A
        call scored with a rulebook whose text is not known here is re-scored whole.
    workers: processes to share the calls (default: up to 2, the CPUs there are).
    """
    started = time.perf_counter()
    rulebook = parsed if parsed is not None else parse_rulebook(draft, source=DRAFT)
    with database.session() as session:
        ids = list(session.scalars(select(Call.id).where(*_in_period(period)).order_by(Call.id)))
        baselines = _known_rulebooks(session, period, rulebook_files) if reuse_unchanged else {}
    unchanged = _unchanged_checks(draft, baselines)
    chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if len(ids) < POOL_FROM or not _shareable(database.url):
        workers = 1
    total = ChunkResult()
    done = 0
    if progress is not None:
        progress(0, len(ids))
    for result in _score_chunks(database, _Plan.of(rulebook, unchanged), draft, unchanged, chunks, workers):
        _merge(total, result)
        done += result.calls
        if progress is not None:
            progress(done, len(ids))
    with database.session() as session:
        agents = _agent_changes(session, period, total.scores, pass_line)
    changed = heapq.nlargest(CALLS_LISTED, total.changed,
                             key=lambda c: abs(c.after - (c.before if c.before is not None else 100.0)))
    return PreviewResult(
        period=period, rulebook_hash=rulebook.content_hash, calls_scored=total.calls, calls_changed=len(total.changed),
        findings_added=sum(c.added for c in total.checks.values()),
        findings_removed=sum(c.removed for c in total.checks.values()),
        per_check={rule_id: total.checks[rule_id] for rule_id in sorted(total.checks)},
        calls=tuple(changed), agents_changed=agents, wall_s=time.perf_counter() - started, workers=workers,
        titles=rulebook.titles,
    )


def _in_period(period: Period) -> list[Any]:
    conditions: list[Any] = [Call.status == CallStatus.DONE]
    if period.start is not None:
        conditions.append(Call.started_at >= period.start)
    if period.end is not None:
        conditions.append(Call.started_at < period.end)
    return conditions


def _shareable(url: str) -> bool:
    """Another process can open the same database (not an in-memory SQLite one)."""
    parsed = make_url(url)
    return not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"))


# --- which checks the draft changes --------------------------------------------------------------


def _known_rulebooks(session: Session, period: Period, files: Iterable[Path]) -> dict[str, str]:
    """content hash → YAML of the rulebooks the period's calls were scored with, where known (a
    published version, a rulebook file); a call scored with any other is re-scored whole."""
    used = set(session.scalars(select(Call.rulebook_hash).where(*_in_period(period)).distinct())) - {None}
    known = {row.content_hash: row.yaml for row in session.execute(
        select(RulebookVersion.content_hash, RulebookVersion.yaml).where(RulebookVersion.content_hash.in_(used)))}
    for path in (DEFAULT_RULEBOOK, *files):
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue  # a file gone: its calls are re-scored whole
        content_hash = hashlib.sha256(data).hexdigest()
        if content_hash in used and content_hash not in known:
            try:
                known[content_hash] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
    return known


def _check_prints(text: str | bytes) -> dict[str, str]:
    """check id → what decides its findings: the check's own fields and the rulebook-wide settings
    it reads (matching, evidence, phrase sets: every top-level key but the name and version)."""
    try:
        top = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
        shared = {key: value for key, value in top.items() if key not in ("version", "name", "checks")}
        return {str(check["id"]): json.dumps([shared, check], sort_keys=True, ensure_ascii=False, default=str)
                for check in top["checks"]}
    except (yaml.YAMLError, AttributeError, KeyError, TypeError):
        return {}  # not a rulebook this can read: nothing is taken as unchanged


def _unchanged_checks(draft: str | bytes, baselines: dict[str, str]) -> dict[str, frozenset[str]]:
    """rulebook hash → the checks of the draft that are exactly as in that rulebook."""
    drafted = _check_prints(draft)
    unchanged = {}
    for content_hash, text in baselines.items():
        earlier = _check_prints(text)
        unchanged[content_hash] = frozenset(rule_id for rule_id, value in drafted.items()
                                            if earlier.get(rule_id) == value)
    return unchanged


@dataclass(frozen=True)
class _Plan:
    """The rulebook to run on a call, by the rulebook it was scored with: the draft's changed
    checks only, and the checks whose stored findings stand."""

    draft: Rulebook
    partial: dict[str, tuple[Rulebook, frozenset[str]]]

    @classmethod
    def of(cls, draft: Rulebook, unchanged: dict[str, frozenset[str]]) -> _Plan:
        partial = {content_hash: (replace(draft, rules=tuple(r for r in draft.rules if r.id not in same)), same)
                   for content_hash, same in unchanged.items() if same}
        return cls(draft, partial)

    def for_call(self, rulebook_hash: str | None) -> tuple[Rulebook, frozenset[str]]:
        return self.partial.get(rulebook_hash or "", (self.draft, frozenset()))


# --- the pool ------------------------------------------------------------------------------------


def _score_chunks(database: Database, plan: _Plan, draft: str | bytes, unchanged: dict[str, frozenset[str]],
                  chunks: Sequence[list[int]], workers: int) -> Iterable[ChunkResult]:
    if workers <= 1:
        for chunk in chunks:
            with database.session() as session:
                yield score_chunk(session, plan, chunk)
        return
    # spawn, not fork: the caller may be a thread of the web server, holding locks and connections.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                             initargs=(database.url, draft, unchanged)) as pool:
        # A few chunks ahead, collected in order: progress moves, and memory stays flat.
        pending = []
        for chunk in chunks:
            pending.append(pool.submit(_worker_chunk, chunk))
            if len(pending) > 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


_worker: dict[str, Any] = {}


def _start_worker(url: str, draft: str | bytes, unchanged: dict[str, frozenset[str]]) -> None:
    _worker["database"] = Database(url)
    _worker["plan"] = _Plan.of(parse_rulebook(draft, source=DRAFT), unchanged)


def _worker_chunk(ids: list[int]) -> ChunkResult:
    with _worker["database"].session() as session:
        return score_chunk(session, _worker["plan"], ids)


# --- one chunk ---------------------------------------------------------------------------------


@dataclass
class _StoredCall:
    """A stored call as `call_input` reads it (the attributes of `Call` it uses), from column rows."""

    id: int
    call_id: str
    agent_id: int | None
    qa_score: float | None
    rulebook_hash: str | None
    queue_wait_s: float | None
    duration_s: float | None
    segments: list[Any] = field(default_factory=list)
    speech: list[Any] = field(default_factory=list)
    unheard: list[Any] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)


@dataclass
class _CallCopy:
    """What `save_score` and `update_call_score` set on a call, held in memory only."""

    findings: list[Any]
    qa_score: float | None = None
    scored_at: Any = None
    rulebook_hash: str | None = None
    not_applicable: Any = None
    checks_applied: Any = None


@dataclass
class _FindingCopy:
    """A stored finding as `save_score` reads and rewrites it (the attributes of `FindingRecord`)."""

    id: int
    rule_id: str
    phrase: str
    start_s: float
    status: FindingStatus
    deduction: float
    veto: bool
    quote: str
    doubt: str | None = None
    title: str = ""
    severity: str = ""
    speaker: str = ""
    end_s: float = 0.0
    wording: str = ""
    match_kind: str = ""
    match_score: float = 0.0
    note: str = ""
    rulebook_hash: str = ""


def score_chunk(session: Session, plan: _Plan, ids: list[int]) -> ChunkResult:
    """Re-score the calls `ids` as `qcpipe score` would with the draft, and compare: nothing is
    written (the copies scored belong to no session)."""
    result = ChunkResult()
    nowhere = Session()  # bound to no database: whatever scoring did with it could not be written
    for stored in _read_calls(session, ids):
        _compare(stored, plan, result, nowhere)
    return result


def _read_calls(session: Session, ids: list[int]) -> list[_StoredCall]:
    connection = session.connection()  # plain rows: no ORM result processing, no identity map
    # `.all()`, not iteration: the driver then fetches the rows at once, not one call per row.
    calls = {
        row.id: _StoredCall(row.id, row.call_id, row.agent_id, row.qa_score, row.rulebook_hash, row.queue_wait_s,
                            row.duration_s)
        for row in connection.execute(
            select(Call.id, Call.call_id, Call.agent_id, Call.qa_score, Call.rulebook_hash, Call.queue_wait_s,
                   Call.duration_s)
            .where(Call.id.in_(ids))
        ).all()
    }
    children = (
        ("segments", select(Segment.call_pk, Segment.channel, Segment.role, Segment.start_s, Segment.end_s,
                            Segment.text, Segment.confidence, Segment.words)
         .order_by(Segment.call_pk, Segment.start_s, Segment.id)),
        ("speech", select(SpeechRegion.call_pk, SpeechRegion.channel, SpeechRegion.role, SpeechRegion.start_s,
                          SpeechRegion.end_s, SpeechRegion.level_db)
         .order_by(SpeechRegion.call_pk, SpeechRegion.start_s, SpeechRegion.id)),
        ("unheard", select(UnheardSpan.call_pk, UnheardSpan.channel, UnheardSpan.role, UnheardSpan.start_s,
                           UnheardSpan.end_s)
         .order_by(UnheardSpan.call_pk, UnheardSpan.start_s, UnheardSpan.id)),
        ("findings", select(FindingRecord.call_pk, FindingRecord.id, FindingRecord.rule_id, FindingRecord.phrase,
                            FindingRecord.start_s, FindingRecord.status, FindingRecord.deduction, FindingRecord.veto,
                            FindingRecord.quote)
         .order_by(FindingRecord.call_pk, FindingRecord.start_s, FindingRecord.id)),
    )
    for name, query in children:
        table = query.get_final_froms()[0]
        for row in connection.execute(query.where(table.c.call_pk.in_(ids))).all():
            getattr(calls[row.call_pk], name).append(row)
    return [calls[pk] for pk in ids if pk in calls]


def _compare(stored: _StoredCall, plan: _Plan, result: ChunkResult, nowhere: Session) -> None:
    """Score one call with the draft and keep the difference from what is stored."""
    rulebook, unchanged = plan.for_call(stored.rulebook_hash)
    standing = [_copy(row) for row in stored.findings if row.rule_id in unchanged]
    earlier = {row.id: _copy(row) for row in stored.findings if row.rule_id not in unchanged}
    copy = _CallCopy(findings=list(earlier.values()))
    if rulebook.rules or earlier:  # else: every check as it was, nothing to run (or to take away)
        # `save_score` on an in-memory copy of the call: a confirmed or overturned finding keeps
        # its decision, "the same finding" is matched, exactly as `qcpipe score` stores them.
        save_score(nowhere, cast(Call, copy), score_call(call_input(cast(Call, stored)), rulebook))
    kept = {record.id for record in copy.findings if record.id is not None}
    for record in copy.findings:
        if record.id is None:
            check = result.checks[record.rule_id]
            check.added += 1
            if len(check.added_examples) < EXAMPLES:
                check.added_examples.append(FindingExample(stored.call_id, record.start_s, record.quote, record.phrase))
    for finding_id, record in earlier.items():
        if finding_id not in kept:
            check = result.checks[record.rule_id]
            check.removed += 1
            if len(check.removed_examples) < EXAMPLES:
                check.removed_examples.append(FindingExample(stored.call_id, record.start_s, record.quote,
                                                             record.phrase))
    copy.findings += standing
    update_call_score(cast(Call, copy))
    after = cast(float, copy.qa_score)
    result.calls += 1
    if stored.agent_id is not None:
        result.scores.append((stored.agent_id, stored.qa_score, after))
    if stored.qa_score is None or abs(after - stored.qa_score) > 1e-9:
        result.changed.append(CallChange(stored.call_id, stored.qa_score, after))


def _copy(row: Any) -> _FindingCopy:
    return _FindingCopy(id=row.id, rule_id=row.rule_id, phrase=row.phrase, start_s=row.start_s,
                        status=FindingStatus(row.status), deduction=row.deduction, veto=row.veto, quote=row.quote)


def _merge(total: ChunkResult, part: ChunkResult) -> None:
    total.calls += part.calls
    total.scores += part.scores
    total.changed += part.changed
    for rule_id, change in part.checks.items():
        total.checks[rule_id].merge(change)


# --- agents -------------------------------------------------------------------------------------


def _agent_changes(session: Session, period: Period, scores: list[tuple[int, float | None, float]],
                   pass_line: float) -> tuple[AgentChange, ...]:
    before_by_agent: dict[int, list[float]] = defaultdict(list)
    after_by_agent: dict[int, list[float]] = defaultdict(list)
    for agent_pk, before, after in scores:
        if before is not None:
            before_by_agent[agent_pk].append(before)
        after_by_agent[agent_pk].append(after)
    before = {pk: one_decimal(fmean(values)) for pk, values in before_by_agent.items()}
    after = {pk: one_decimal(fmean(values)) for pk, values in after_by_agent.items()}
    history = _earlier_months(session, period)
    flags_before, flags_after = _flags(before, pass_line, period, history), _flags(after, pass_line, period, history)
    moved = [pk for pk in after if before.get(pk) != after[pk] or flags_before.get(pk, ()) != flags_after[pk]]
    if not moved:
        return ()
    names = {
        row.id: row
        for row in session.execute(
            select(Agent.id, Agent.code, Agent.name, Team.name.label("team"))
            .outerjoin(Team, Team.id == Agent.team_id)
            .where(Agent.id.in_(moved))
        )
    }
    changes = [
        AgentChange(agent_id=names[pk].code, agent_name=names[pk].name, team=names[pk].team,
                    calls=len(after_by_agent[pk]), score_before=before.get(pk), score_after=after[pk],
                    flags_before=flags_before.get(pk, ()), flags_after=flags_after[pk])
        for pk in moved
    ]
    return tuple(sorted(changes, key=lambda a: (-abs(a.score_after - (a.score_before or 0.0)), a.agent_id)))


def _earlier_months(session: Session, period: Period) -> dict[int, dict[str, MonthPoint]]:
    """The two months before a calendar-month period, as stored (agent pk → month → score): what
    the flag "failing 3 months" reads besides the month itself. Nothing for other periods."""
    month = period.calendar_month()
    if month is None:
        return {}
    assert period.start is not None and period.start.tzinfo is not None
    first = previous_month(previous_month(month))
    since = period.start.replace(year=int(first[:4]), month=int(first[5:]))
    return monthly_history(session, period.start, period.start.tzinfo, since=since)


def _flags(scores: dict[int, float], pass_line: float, period: Period,
           history: dict[int, dict[str, MonthPoint]]) -> dict[int, tuple[ScoreFlag, ...]]:
    """The monthly report's flags, as it would set them on these scores: below the pass line and
    bottom 10 % for any period; failing 3 months too when the period is a calendar month."""
    month = period.calendar_month()
    bottom = bottom_tenth(scores)
    return {pk: score_flags(month, score, pass_line, pk in bottom, history.get(pk, {})) for pk, score in scores.items()}
