#!/usr/bin/env python
"""The web workspace under load: concurrent monitor sessions on a 100,000-call database.

Builds (once, kept for re-runs) a database of `--calls` calls replicated from the transcribed dev
corpus: the stored calls, their utterances with word timings, speech regions and findings, under
new call ids, spread over five weeks and 50 agents in five teams, with 20 monitor accounts and a
review queue of 40 calls each. The dev corpus is transcribed first into var/bench-dev.db if that
is not there yet (a few minutes on CPU).

Then, per backend, it starts the real server (`qcpipe serve --db URL --port P`, one uvicorn
process) and drives it with monitor sessions that log in through /login like a browser and, each
round: open the worklist (now and then filtered by team, rule, a week, page 2 or their queue),
open a call from it, and confirm or overturn one of its open findings (a real write; a 409,
someone else decided it first, is counted apart). First one session alone (the baseline), then
`--sessions` at once; per request wall time, p50/p95/p99/max per kind, requests/s, errors.

Sessions log in all at once (argon2 on purpose costs CPU: login is reported apart), then each
starts its rounds at a random moment within the first round's span and pauses `--think` seconds
(±50 %) between requests; 0 is a stress test (every session always has a request in flight),
not what 20 people at work do. The one session alone makes `--baseline-rounds` rounds back to
back. A benchmark, not a test: the numbers depend on the machine and on what else it runs.

    python scripts/bench_web.py [--backend sqlite|postgres|both] [--calls 100000] [--sessions 20]
        [--rounds 10] [--baseline-rounds 30] [--think 1.0] [--rebuild] [--json]

PostgreSQL: the schema `bench_web` of $QCPIPE_BENCH_PG (default the local test server), made and
filled by this script; `--rebuild` drops it (or the SQLite file) and builds it again, `--drop`
drops both and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from qcpipe.accounts import add_user
from qcpipe.periods import DEFAULT_TIMEZONE
from qcpipe.store import open_database
from qcpipe.store.models import (Agent, Call, CallStatus, FindingRecord, ReviewAssignment, Segment, SpeechRegion, Team,
                                 User, UserRole)

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "corpus" / "dev"
SOURCE_DB = REPO / "var" / "bench-dev.db"
SQLITE_DB = REPO / "var" / "bench-web.db"
PG_SERVER = os.environ.get("QCPIPE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "bench_web"

ID_PREFIX = "W"  # the replicated calls: W000000 …, in order of start time
MONTH_START = date(2026, 10, 1)
DAYS = 35
TEAMS = ("一组", "二组", "三组", "四组", "五组")
AGENTS = 50
MONITOR = "bench-m{:02d}"
PASSWORD = "bench-monitor-password"
QUEUE_PER_MONITOR = 40
BATCH = 1000  # calls per transaction while building
GOAL_MS = 300


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the database -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCall:
    """One transcribed dev call as rows: the call's columns and its children's (without keys)."""

    call: dict
    segments: list[dict]
    speech: list[dict]
    findings: list[dict]


def transcribed_corpus() -> list[StoredCall]:
    """The dev corpus as stored by `qcpipe run` (run now when var/bench-dev.db has no calls)."""
    url = f"sqlite:///{SOURCE_DB}"
    if not _count(url, select(func.count()).select_from(Call).where(Call.status == CallStatus.DONE)):
        log(f"transcribing the dev corpus into {SOURCE_DB} (once; 2–4 min on CPU) …")
        subprocess.run([*_qcpipe(), "run", str(DEV), "--manifest", str(DEV / "calls.csv"), "--db", url], check=True)
    engine = create_engine(url, poolclass=NullPool)
    keyless = {"id", "call_pk"}
    with engine.connect() as connection:
        calls = [dict(row) for row in connection.execute(
            select(Call.__table__).where(Call.status == CallStatus.DONE).order_by(Call.id)).mappings()]
        children = {}
        for model in (Segment, SpeechRegion, FindingRecord):
            rows = defaultdict(list)
            for row in connection.execute(select(model.__table__).order_by(model.id)).mappings():
                rows[row["call_pk"]].append({k: v for k, v in row.items() if k not in keyless})
            children[model] = rows
    engine.dispose()
    return [StoredCall(call, children[Segment][call["id"]], children[SpeechRegion][call["id"]],
                       children[FindingRecord][call["id"]]) for call in calls]


def _count(url: str, query) -> int:  # type: ignore[no-untyped-def]
    """A count from a database that may not exist yet (0 then)."""
    if url.startswith("sqlite:") and not Path(make_url(url).database or "").is_file():
        return 0
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(query) or 0)
    except Exception:  # noqa: BLE001 - no such table: nothing built yet
        return 0
    finally:
        engine.dispose()


def database_url(backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{SQLITE_DB}"
    return make_url(PG_SERVER).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"}).render_as_string(False)


def drop(backend: str) -> None:
    """Remove the benchmark database of `backend` (the SQLite file, or the PostgreSQL schema)."""
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_DB}{suffix}").unlink(missing_ok=True)
        return
    engine = create_engine(PG_SERVER, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    engine.dispose()


def is_built(url: str, calls: int, monitors: int) -> bool:
    replicas = select(func.count()).select_from(Call).where(Call.call_id.like(f"{ID_PREFIX}%"))
    accounts = select(func.count()).select_from(User).where(User.username.like("bench-m%"))
    return _count(url, replicas) == calls and _count(url, accounts) >= monitors


def build(backend: str, calls: int, monitors: int, corpus: list[StoredCall], seed: int = 11) -> float:
    """A fresh benchmark database of `calls` replicated calls and `monitors` accounts; its build time in s."""
    drop(backend)
    url = database_url(backend)
    if backend == "postgres":
        engine = create_engine(PG_SERVER, poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        engine.dispose()
    started = time.perf_counter()
    database = open_database(url)  # the schema, by the product's own migrations
    rng = random.Random(seed)
    flagged = [n for n, stored in enumerate(corpus) if stored.findings]
    queue_calls: list[int] = []  # call pks for the monitors' queues
    with database.engine.begin() as connection:
        agent_pks = _agents(connection, rng)
    center = ZoneInfo(DEFAULT_TIMEZONE)
    first = datetime.combine(MONTH_START, datetime.min.time(), center)
    # Calls between 08:00 and 21:00 on each day of the five weeks, numbered in time order.
    starts = sorted(first + timedelta(days=rng.randrange(DAYS), seconds=rng.uniform(8 * 3600, 21 * 3600))
                    for _ in range(calls))
    for batch_start in range(0, calls, BATCH):
        call_rows, segment_rows, speech_rows, finding_rows = [], [], [], []
        for n in range(batch_start, min(calls, batch_start + BATCH)):
            stored = corpus[n % len(corpus)]
            pk, started_at = n + 1, starts[n].astimezone(UTC)
            scored = started_at + timedelta(hours=1)
            call_rows.append({**stored.call, "id": pk, "call_id": f"{ID_PREFIX}{n:06d}", "agent_id": rng.choice(agent_pks),
                              "started_at": started_at, "processed_at": scored, "scored_at": scored, "extra": {}})
            segment_rows += [{**row, "call_pk": pk} for row in stored.segments]
            speech_rows += [{**row, "call_pk": pk} for row in stored.speech]
            finding_rows += [{**row, "call_pk": pk, "created_at": scored} for row in stored.findings]
            if n % len(corpus) in flagged and n % 97 == 0:
                queue_calls.append(pk)
        with database.engine.begin() as connection:
            for model, rows in ((Call, call_rows), (Segment, segment_rows), (SpeechRegion, speech_rows),
                                (FindingRecord, finding_rows)):
                if rows:
                    connection.execute(insert(model.__table__), rows)
        done = batch_start + len(call_rows)
        if done % 10_000 == 0 or done == calls:
            log(f"  {backend}: {done:,} calls stored ({time.perf_counter() - started:.0f} s)")
    with database.engine.begin() as connection:
        now = datetime.now(UTC)
        rows = [{"call_pk": pk, "monitor": MONITOR.format(1 + i % monitors), "reason": "flagged",
                 "assigned_by": "bench", "assigned_at": now} for i, pk in enumerate(queue_calls[:QUEUE_PER_MONITOR * monitors])]
        connection.execute(insert(ReviewAssignment.__table__), rows)
        if backend == "postgres":  # the calls were given their keys here: move the sequence past them
            connection.execute(text("SELECT setval(pg_get_serial_sequence('calls', 'id'), (SELECT max(id) FROM calls))"))
    with database.transaction() as session:
        for i in range(monitors):
            add_user(session, MONITOR.format(i + 1), UserRole.MONITOR, PASSWORD, by="bench")
    if backend == "postgres":
        # What autovacuum does soon after a bulk load anyway (statistics, the visibility map that
        # index-only scans need); SQLite is left as qcpipe leaves it.
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    database.dispose()
    return time.perf_counter() - started


def _agents(connection: Connection, rng: random.Random) -> list[int]:
    """Five teams of ten agents (B01 … B50); their primary keys."""
    team_pks = [connection.execute(insert(Team.__table__).values(name=name).returning(Team.id)).scalar_one()
                for name in TEAMS]
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡", "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平"
    rows = [{"code": f"B{i + 1:02d}", "name": rng.choice(surnames) + rng.choice(given) + rng.choice(given),
             "team_id": team_pks[i * len(TEAMS) // AGENTS]} for i in range(AGENTS)]
    connection.execute(insert(Agent.__table__), rows)
    return list(connection.scalars(select(Agent.id).where(Agent.code.like("B%"))))


@dataclass(frozen=True)
class Workload:
    """What the sessions filter the worklist by: the teams, the rules found, the weeks."""

    teams: tuple[str, ...]
    rules: tuple[str, ...]
    weeks: tuple[date, ...]


def workload_of(url: str) -> Workload:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        rules = tuple(connection.scalars(select(FindingRecord.rule_id).distinct().order_by(FindingRecord.rule_id)))
    engine.dispose()
    return Workload(TEAMS, rules, tuple(MONTH_START + timedelta(days=d) for d in range(0, DAYS - 6, 7)))


# --- the server ---------------------------------------------------------------------------------


def _qcpipe() -> list[str]:
    """The qcpipe command of this environment, as a user runs it."""
    script = Path(sys.executable).with_name("qcpipe")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "qcpipe"]


@contextmanager
def served(url: str) -> Iterator[str]:
    """`qcpipe serve --db URL --port P` running; its base URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    errors = tempfile.TemporaryFile()
    server = subprocess.Popen([*_qcpipe(), "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=errors)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                errors.seek(0)
                raise RuntimeError(f"qcpipe serve did not start: {errors.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        errors.close()


# --- the sessions -------------------------------------------------------------------------------

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
_CALL_LINK = re.compile(r'href="/calls/([^"/?]+)(?:\?([^"]*))?"')
_FINDING = re.compile(r'<article class="finding status-open"[^>]*data-finding-id="(\d+)"[^>]*data-version="(\d+)"')


@dataclass
class Sample:
    kind: str  # login, worklist, call, review
    ms: float
    status: int
    variant: str = ""  # the worklist's filter


@dataclass
class Monitor:
    """One monitor at a browser (the cookies are in its client): CSRF token, timings, each round's steps."""

    index: int
    workload: Workload
    think: float
    samples: list[Sample] = field(default_factory=list)
    csrf: str = ""

    @property
    def username(self) -> str:
        return MONITOR.format(self.index + 1)

    async def _timed(self, client: httpx.AsyncClient, kind: str, method: str, path: str, variant: str = "",
                     **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await client.request(method, path, **kwargs)
        self.samples.append(Sample(kind, (time.perf_counter() - started) * 1000, response.status_code, variant))
        return response

    async def log_in(self, client: httpx.AsyncClient) -> None:
        form = await client.get("/login", params={"next": "/worklist"})
        token = _LOGIN_CSRF.search(form.text)
        response = await self._timed(client, "login", "POST", "/login", data={
            "username": self.username, "password": PASSWORD, "csrf_token": token.group(1) if token else "",
            "next": "/worklist"})
        if response.status_code != 303 or "qcpipe_session" not in client.cookies:
            raise RuntimeError(f"{self.username} could not log in: HTTP {response.status_code}")

    def _filter(self, round_no: int) -> tuple[str, dict[str, str]]:
        """The worklist query of this round: mostly the plain list, now and then a filter."""
        w, pick = self.workload, self.index + round_no
        variants = [
            ("open", {}),
            ("team", {"team": w.teams[pick % len(w.teams)]}),
            ("open", {}),
            ("rule", {"rule": w.rules[pick % len(w.rules)]} if w.rules else {}),
            ("week", {"date_from": str(w.weeks[pick % len(w.weeks)]),
                      "date_to": str(w.weeks[pick % len(w.weeks)] + timedelta(days=6))}),
            ("page 2", {"page": "2"}),
            ("my queue", {"queue": "mine"}),
        ]
        return variants[(self.index + round_no) % len(variants)]

    async def pause(self, rng: random.Random) -> None:
        if self.think > 0:
            await asyncio.sleep(self.think * rng.uniform(0.5, 1.5))

    async def round(self, client: httpx.AsyncClient, round_no: int, rng: random.Random) -> None:
        variant, query = self._filter(round_no)
        listing = await self._timed(client, "worklist", "GET", "/worklist", variant, params=query)
        if listing.status_code != 200:
            return
        if token := _CSRF.search(listing.text):
            self.csrf = token.group(1)
        links = _CALL_LINK.findall(listing.text)
        if not links:
            return
        # Sessions take different calls of the same list, as monitors sharing a queue would.
        call_id, context = links[(self.index * 2 + round_no * 5) % len(links)]
        context = html.unescape(context)
        await self.pause(rng)
        page = await self._timed(client, "call", "GET", f"/calls/{call_id}" + (f"?{context}" if context else ""))
        findings = _FINDING.findall(page.text) if page.status_code == 200 else []
        if not findings:
            return
        finding_id, version = findings[self.index % len(findings)]
        decision = "confirm" if (self.index + round_no) % 2 == 0 else "overturn"
        await self.pause(rng)
        await self._timed(client, "review", "POST", f"/findings/{finding_id}/review", data={
            "csrf_token": self.csrf, "decision": decision, "version": version, "context": context,
            "comment": f"bench {self.username} round {round_no}"})
        await self.pause(rng)


async def _sessions(base: str, workload: Workload, count: int, rounds: int, think: float, limit_s: float,
                    first: int = 0) -> tuple[list[Sample], float]:
    """`count` monitors (from number `first`) logged in at once, then `rounds` rounds each, or until
    `limit_s` seconds have passed; every sample and the wall time of the rounds."""
    monitors = [Monitor(first + i, workload, think) for i in range(count)]
    clients = [httpx.AsyncClient(base_url=base, timeout=120, follow_redirects=False) for _ in monitors]
    try:
        await asyncio.gather(*(m.log_in(c) for m, c in zip(monitors, clients)))
        deadline = time.monotonic() + limit_s

        async def work(monitor: Monitor, client: httpx.AsyncClient) -> None:
            rng = random.Random(monitor.index)
            # People do not all click at the same instant: each starts somewhere in a first round.
            await asyncio.sleep(rng.uniform(0, 3 * think))
            for round_no in range(rounds):
                if time.monotonic() > deadline:
                    break
                await monitor.round(client, round_no, rng)

        started = time.perf_counter()
        await asyncio.gather(*(work(m, c) for m, c in zip(monitors, clients)))
        wall = time.perf_counter() - started
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return [s for m in monitors for s in m.samples], wall


# --- the figures --------------------------------------------------------------------------------

KINDS = ("worklist", "call", "review")
_EXPECTED = {"login": 303, "worklist": 200, "call": 200, "review": 303}


def _percentile(sorted_ms: list[float], share: float) -> float:
    """Nearest rank."""
    return sorted_ms[max(0, min(len(sorted_ms) - 1, round(share * len(sorted_ms) + 0.5) - 1))]


def summary(samples: list[Sample], wall: float) -> dict:
    def figures(chosen: list[Sample]) -> dict:
        ms = sorted(s.ms for s in chosen)
        if not ms:
            return {"n": 0}
        return {"n": len(ms), "p50": _percentile(ms, 0.50), "p95": _percentile(ms, 0.95), "p99": _percentile(ms, 0.99),
                "max": ms[-1], "conflicts": sum(s.status == 409 for s in chosen),
                "errors": sum(s.status not in (_EXPECTED[s.kind], 409) for s in chosen)}

    measured = [s for s in samples if s.kind in KINDS]
    result = {kind: figures([s for s in samples if s.kind == kind]) for kind in ("login", *KINDS)}
    result["all"] = figures(measured)
    result["requests_per_s"] = len(measured) / wall if wall else 0.0
    result["wall_s"] = wall
    result["worklist_by_filter"] = {v: figures([s for s in samples if s.kind == "worklist" and s.variant == v])
                                    for v in sorted({s.variant for s in samples if s.kind == "worklist"})}
    result["error_statuses"] = sorted({s.status for s in samples if s.status not in (_EXPECTED[s.kind], 409)})
    return result


def table(backend: str, result: dict) -> str:
    lines = [f"\n{backend}: {result['url']}", f"  {result['calls']:,} calls, {result['segments']:,} utterances, "
             f"{result['findings']:,} findings; " + (f"built in {result['build_s']:.0f} s" if result['build_s'] is not None
                                                    else "reused (built earlier; --rebuild to build again)"),
             f"  {result['many']['sessions']} sessions: think time {result['think_s']:g} s (±50 %) between requests; "
             f"1 session: back to back; goal p95 < {GOAL_MS} ms",
             f"  {'sessions':>8} {'kind':<9} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  ms  "
             f"{'409':>4} {'err':>4}"]
    for label in ("1", "many"):
        run = result[label]
        for kind in (*KINDS, "all", "login"):
            f = run[kind]
            if not f["n"]:
                continue
            flag = "  > goal" if kind in KINDS and f["p95"] > GOAL_MS else ""
            lines.append(f"  {run['sessions']:>8} {kind:<9} {f['n']:>5} {f['p50']:>7.0f} {f['p95']:>7.0f} "
                         f"{f['p99']:>7.0f} {f['max']:>7.0f}      {f['conflicts']:>4} {f['errors']:>4}{flag}")
        by_filter = ", ".join(f"{v} {f['p95']:.0f}" for v, f in run["worklist_by_filter"].items() if f["n"])
        lines.append(f"  {'':>8} {run['requests_per_s']:.1f} requests/s over {run['wall_s']:.0f} s; "
                     f"worklist p95 by filter: {by_filter}"
                     + (f"; error statuses {run['error_statuses']}" if run["error_statuses"] else ""))
    ratios = ", ".join(f"{kind} {result['many'][kind]['p95'] / result['1'][kind]['p95']:.1f}×"
                       for kind in (*KINDS, "all") if result["many"][kind]["n"] and result["1"][kind]["n"])
    lines.append(f"  p95 {result['many']['sessions']} sessions / 1 session: {ratios}")
    return "\n".join(lines)


def bench(backend: str, args: argparse.Namespace, corpus_of) -> dict:  # type: ignore[no-untyped-def]
    url = database_url(backend)
    monitors = max(20, args.sessions + 1)
    build_s = None
    if args.rebuild or not is_built(url, args.calls, monitors):
        log(f"building the {backend} database: {args.calls:,} calls …")
        build_s = build(backend, args.calls, monitors, corpus_of())
        log(f"  built in {build_s:.0f} s")
    workload = workload_of(url)
    counts = {name: _count(url, select(func.count()).select_from(model))
              for name, model in (("calls", Call), ("segments", Segment), ("findings", FindingRecord))}
    result = {"backend": backend, "url": make_url(url).render_as_string(hide_password=True), "build_s": build_s,
              "think_s": args.think, **counts}
    with served(url) as base:
        log(f"{backend}: qcpipe serve answers at {base}; warming up …")
        asyncio.run(_sessions(base, workload, 1, 2, 0, args.max_seconds, first=monitors - 1))
        # The baseline: one session alone, back to back (a pause changes nothing without others).
        for label, count, rounds, think in (("1", 1, args.baseline_rounds, 0.0),
                                            ("many", args.sessions, args.rounds, args.think)):
            log(f"{backend}: {count} session(s), {rounds} rounds …")
            samples, wall = asyncio.run(_sessions(base, workload, count, rounds, think, args.max_seconds))
            result[label] = {"sessions": count, "rounds": rounds, "think_s": think, **summary(samples, wall)}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10, help="rounds (worklist, call, review) per session")
    parser.add_argument("--baseline-rounds", type=int, default=30, help="rounds of the one session alone")
    parser.add_argument("--think", type=float, default=1.0, help="seconds (±50 %%) between a session's requests")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop a phase's rounds after this long")
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases and exit")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    if args.drop:
        for backend in backends:
            drop(backend)
        return 0
    corpus: list[StoredCall] = []

    def corpus_of() -> list[StoredCall]:
        if not corpus:
            corpus.extend(transcribed_corpus())
        return corpus

    results = {backend: bench(backend, args, corpus_of) for backend in backends}
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        print("\n".join(table(backend, result) for backend, result in results.items()))
        print(f"\n(one uvicorn process; client and server share this machine's {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
