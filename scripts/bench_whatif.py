#!/usr/bin/env python
"""What-if preview speed: a month of stored calls re-scored with a draft rulebook, nothing saved.

Builds a month (October 2026, Shanghai) of `--calls` transcribed calls in a new database (a SQLite
file in a temporary folder; a schema of its own on the PostgreSQL server of --pg, dropped after),
with realistic transcripts: ~20 utterances a call with per-token word timings, from templates of
scripted lines with the slots filled (numbers, amounts, dates), some calls without a greeting or
a closing, some with a 禁语 of the default rulebook, long holds; 200 agents in 10 teams. The calls
are scored once with the default rulebook as `qcpipe run` stores them, and a few findings are
confirmed or overturned by a monitor. Then, on the same database:

- preview: `qcpipe.pipeline.whatif.preview` of a draft (the greeting costs 8 instead of 5, and one
  禁语 phrase added), over the month, with progress;
- naive: each call loaded as ORM objects with its relationships (`repository.calls_for_scoring`)
  and re-scored as `qcpipe score` does (`score_call`, `save_score`), rolled back instead of saved;
  on the first `--naive-sample` calls, extrapolated to the month (0: every call).

Each phase runs in a process of its own so that its peak memory (ru_maxrss, its worker processes
included) is its own. Prints generation time, calls/s, wall time, the ratio and peak memory.

    python scripts/bench_whatif.py [--calls 100000] [--backend sqlite|postgres|both]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--naive-sample 5000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert, select  # noqa: E402

from qcpipe.asr.types import Role, Segment, SpeechRegion, Word  # noqa: E402
from qcpipe.periods import month_period  # noqa: E402
from qcpipe.scoring import CallInput, parse_rulebook, score_call  # noqa: E402
from qcpipe.scoring.engine import call_score  # noqa: E402
from qcpipe.scoring.rulebook import DEFAULT_RULEBOOK  # noqa: E402
from qcpipe.store import Database, open_database  # noqa: E402
from qcpipe.store.models import Agent, Call, FindingRecord, FindingStatus, RulebookVersion, Team  # noqa: E402
from qcpipe.store.models import Segment as SegmentRow  # noqa: E402
from qcpipe.store.models import SpeechRegion as SpeechRow  # noqa: E402

MONTH = "2026-10"
ZONE = "Asia/Shanghai"
TEAMS = 10
AGENTS = 200
CHUNK = 1000  # calls generated (and inserted) together
GREETING_AT_5 = "    deduction: 5\n    role: agent\n    # The first agent turn"
FORBIDDEN_PHRASES = "      # --- 推诿: pushing the caller away"
ADDED_PHRASE = "系统升级"  # said in one of the scripted explanations (最近系统升级 …)

GREETINGS = ["您好，欢迎致电畅联通信，工号{n}为您服务", "您好，很高兴为您服务，请问有什么可以帮您？",
             "您好，欢迎致电畅联客服，请问有什么可以帮您", "上午好，欢迎来电，我是{n}号客服"]
NO_GREETING = ["喂", "喂，说吧", "你好"]
CLOSINGS = ["感谢您的来电，祝您生活愉快，再见", "感谢您的来电，再见", "好的，谢谢您的来电，再见"]
NO_CLOSING = ["好的", "就这样吧", "嗯，行"]
AGENT_LINES = [
    "好的，我帮您查一下您的账户信息，请您稍等", "您的号码尾号是{n}对吧", "您本月的话费是{a}元，已经扣款成功了",
    "您的宽带是因为线路故障暂时中断了，我们正在抢修", "我们会安排师傅{d}上午上门检修",
    "您的套餐本月还剩{g}个G的流量", "我已经帮您登记了，稍后会有专人联系您", "这边看到您{d}办理了{a}元的流量包",
    "最近系统升级，查询可能会有点慢", "您可以通过我们的APP自助查询账单", "还有什么其他可以帮您的吗",
    "非常抱歉给您带来不便", "我这边给您申请了{a}元的补偿，{d}到账", "请您保持手机畅通，工作人员会在{g}小时内联系您",
]
FORBIDDEN = ["这不关我的事，你自己去营业厅问吧", "我也没办法", "我都忙死了，你等着吧", "你自己看着办"]
CUSTOMER_LINES = ["我家宽带又断了，一直上不了网", "好吧", "那要等多久啊", "我的话费怎么扣了这么多", "行，谢谢",
                  "{d}上午我在家", "能不能快一点啊", "没有了", "尾号{n}", "我上个月才交了{a}块钱", "对，是我本人",
                  "那我再等等", "这个流量包我没办过啊", "嗯嗯，知道了"]
JOB_NUMBERS = [str(1000 + 37 * k) for k in range(60)]
DAYS = ["明天", "后天", "周一", "周三", "本周五", "下周二", "{m}号"]


def fill(line: str, rng: random.Random) -> str:
    # Slots of a few dozen values: scripted lines recur all day in a center (and scoring memoises
    # per text), while the calls are not copies of each other.
    return line.format(n=rng.choice(JOB_NUMBERS), a=rng.choice([9, 19, 29, 58, 88, 128, 199]),
                       g=rng.randint(1, 48), d=rng.choice(DAYS).format(m=rng.randint(1, 28)), m=rng.randint(1, 28))


def scripted_call(index: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[float]]:
    """[(role, text)] of one call and the gap before each line (a long one is a hold)."""
    lines = [("agent", fill(rng.choice(GREETINGS if rng.random() > 0.15 else NO_GREETING), rng))]
    for turn in range(rng.randint(8, 10)):
        lines.append(("customer", fill(rng.choice(CUSTOMER_LINES), rng)))
        lines.append(("agent", fill(rng.choice(FORBIDDEN if rng.random() < 0.02 else AGENT_LINES), rng)))
    lines.append(("agent", rng.choice(CLOSINGS if rng.random() > 0.1 else NO_CLOSING)))
    gaps = [rng.uniform(0.3, 1.5) if rng.random() > 0.03 else rng.uniform(11, 25) for _ in lines]
    return lines, gaps


def call_of(index: int, rng: random.Random) -> CallInput:
    lines, gaps = scripted_call(index, rng)
    segments, speech, t = [], [], 0.5
    for (role, text), gap in zip(lines, gaps):
        t += gap
        channel = 0 if role == "agent" else 1
        step = rng.uniform(0.18, 0.28)
        words = tuple(Word(text[i:i + 2], round(t + i * step, 3), round(t + min(i + 2, len(text)) * step, 3),
                           round(rng.uniform(0.75, 0.99), 3)) for i in range(0, len(text), 2))
        end = round(t + len(text) * step, 3)
        segments.append(Segment(channel, Role(role), round(t, 3), end, text, round(sum(w.probability for w in words)
                                                                                  / len(words), 3), words))
        speech.append(SpeechRegion(channel, Role(role), round(t, 3), end, round(rng.uniform(-24, -17), 1)))
        t = end
    return CallInput(call_id=f"B{index:06d}", segments=tuple(segments), speech=tuple(speech),
                     queue_wait_s=round(rng.uniform(0, 60), 1), duration_s=round(t + 1.0, 3))


_rulebook: Any = None


def _load_rules(text: str) -> None:
    global _rulebook
    _rulebook = parse_rulebook(text, source="version 1")


def generate_chunk(first: int, count: int, start_ts: float, span_s: float) -> dict[str, list[dict[str, Any]]]:
    """Rows of calls first+1 … first+count, scored with the default rulebook as `qcpipe run` stores them."""
    rng = random.Random(first)
    now = datetime.now(UTC)
    rows: dict[str, list[dict[str, Any]]] = {"calls": [], "segments": [], "speech": [], "findings": []}
    for index in range(first, first + count):
        call = call_of(index, rng)
        result = score_call(call, _rulebook)
        pk = index + 1
        statuses = []
        for f in result.findings:
            status = (FindingStatus.NOTED if f.observation else FindingStatus.UNCERTAIN if f.doubt
                      else FindingStatus.OPEN)
            if status is FindingStatus.OPEN and rng.random() < 0.05:  # a monitor has ruled on some
                status = FindingStatus.CONFIRMED if rng.random() < 0.6 else FindingStatus.OVERTURNED
            statuses.append(status)
            rows["findings"].append(dict(
                call_pk=pk, rule_id=f.rule_id, title=f.title, deduction=f.deduction, severity=f.severity, veto=f.veto,
                speaker=f.speaker.value, start_s=f.start, end_s=f.end, quote=f.quote, phrase=f.phrase,
                wording=f.wording,
                match_kind=f.match_kind.value, match_score=f.score, note=f.note, doubt=f.doubt or None,
                rulebook_hash=f.rulebook_hash, status=status.value, created_at=now, version=1))
        deducting = [f for f, s in zip(result.findings, statuses)
                     if s not in (FindingStatus.OVERTURNED, FindingStatus.UNCERTAIN, FindingStatus.NOTED)]
        rows["calls"].append(dict(
            id=pk, call_id=call.call_id, audio_path=f"/bench/{call.call_id}.wav", content_hash="0" * 64,
            status="done", agent_id=1 + rng.randrange(AGENTS),
            started_at=datetime.fromtimestamp(start_ts + rng.uniform(0, span_s), UTC), queue_wait_s=call.queue_wait_s,
            extra={}, duration_s=call.duration_s, channels=2, source_rate=8000, roles_known=True, model="bench",
            processed_at=now, qa_score=call_score(deducting), scored_at=now, rulebook_hash=result.rulebook_hash,
            not_applicable=[[na.rule_id, na.reason] for na in result.not_applicable],
            checks_applied=list(result.applied)))
        for s in call.segments:
            rows["segments"].append(dict(call_pk=pk, channel=s.channel, role=s.role.value, start_s=s.start, end_s=s.end,
                                         text=s.text, confidence=s.confidence,
                                         words=[[w.text, w.start, w.end, w.probability] for w in s.words]))
        for r in call.speech:
            rows["speech"].append(dict(call_pk=pk, channel=r.channel, role=r.role.value, start_s=r.start, end_s=r.end,
                                       level_db=r.level_db))
    return rows


def generate(url: str, calls: int, distinct: int) -> dict[str, Any]:
    """`distinct` calls scripted and scored (two processes), then stored again and again under new
    call ids, agents and times until there are `calls`: scoring 100,000 calls one by one would
    take as long as the naive re-score this compares with."""
    database = open_database(url)
    text = DEFAULT_RULEBOOK.read_text(encoding="utf-8")  # published as version 1: what the calls are scored with
    period = month_period(MONTH, ZONE)
    start_ts, span_s = period.start.timestamp(), (period.end - period.start).total_seconds() - 1
    with database.transaction() as session:
        session.execute(insert(Team), [{"id": n + 1, "name": f"{n + 1}组"} for n in range(TEAMS)])
        session.execute(insert(Agent), [{"id": n + 1, "code": f"A{n + 1:03d}", "name": f"坐席{n + 1}",
                                         "team_id": 1 + n % TEAMS} for n in range(AGENTS)])
        session.add(RulebookVersion(number=1, yaml=text, content_hash=parse_rulebook(text).content_hash,
                                    comment="bench", published_by="bench"))
    distinct = min(distinct, calls)
    scripted: list[dict[str, list[dict[str, Any]]]] = []
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=_load_rules,
                             initargs=(text,)) as pool:
        firsts = range(0, distinct, CHUNK)
        for rows in pool.map(generate_chunk, firsts, [min(CHUNK, distinct - f) for f in firsts],
                             [start_ts] * len(firsts), [span_s] * len(firsts)):
            scripted.append(rows)
            print(f"\r  scored {sum(len(r['calls']) for r in scripted)}/{distinct} distinct calls", end="",
                  file=sys.stderr, flush=True)
    print(file=sys.stderr)
    by_call: list[tuple[dict[str, Any], list, list, list]] = []
    for rows in scripted:
        children: dict[str, dict[int, list]] = {name: defaultdict(list) for name in ("segments", "speech", "findings")}
        for name, table in children.items():
            for row in rows[name]:
                table[row["call_pk"]].append(row)
        by_call += [(call, children["segments"][call["id"]], children["speech"][call["id"]],
                     children["findings"][call["id"]]) for call in rows["calls"]]
    rng = random.Random(11)
    counts = {"segments": 0, "findings": 0}
    for first in range(0, calls, CHUNK):
        batch: dict[str, list[dict[str, Any]]] = {"calls": [], "segments": [], "speech": [], "findings": []}
        for index in range(first, min(first + CHUNK, calls)):
            call, segments, speech, findings = by_call[index % distinct]
            pk = index + 1
            batch["calls"].append({**call, "id": pk, "call_id": f"B{index:06d}",
                                   "audio_path": f"/bench/B{index:06d}.wav",
                                   "agent_id": 1 + rng.randrange(AGENTS),
                                   "started_at": datetime.fromtimestamp(start_ts + rng.uniform(0, span_s), UTC)})
            batch["segments"] += [{**row, "call_pk": pk} for row in segments]
            batch["speech"] += [{**row, "call_pk": pk} for row in speech]
            batch["findings"] += [{**row, "call_pk": pk} for row in findings]
        with database.transaction() as session:
            connection = session.connection()  # Core executemany: ORM bulk inserts cost far more a row
            for table, name in ((Call, "calls"), (SegmentRow, "segments"), (SpeechRow, "speech"),
                                (FindingRecord, "findings")):
                if batch[name]:
                    connection.execute(insert(table.__table__), batch[name])
        counts["segments"] += len(batch["segments"])
        counts["findings"] += len(batch["findings"])
        print(f"\r  stored {min(first + CHUNK, calls)}/{calls} calls", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    database.dispose()
    return counts


def draft_yaml(database: Database) -> str:
    """Version 1 with the greeting at 8 points instead of 5 and one 禁语 phrase added."""
    with database.session() as session:
        text = session.scalars(select(RulebookVersion.yaml).where(RulebookVersion.number == 1)).one()
    assert text.count(GREETING_AT_5) == 1 and text.count(FORBIDDEN_PHRASES) == 1, "the default rulebook changed"
    text = text.replace(GREETING_AT_5, GREETING_AT_5.replace("5", "8", 1))
    return text.replace(FORBIDDEN_PHRASES, f"      - phrase: {ADDED_PHRASE}\n{FORBIDDEN_PHRASES}")


def run_preview(url: str, workers: int | None, reuse_unchanged: bool = True) -> dict[str, Any]:
    from qcpipe.pipeline.whatif import preview

    database = Database(url)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 5 or done == total:
            last[0] = time.perf_counter()
            print(f"\r  preview {done}/{total} calls", end="", file=sys.stderr, flush=True)

    started = time.perf_counter()
    result = preview(database, draft_yaml(database), month_period(MONTH, ZONE), pass_line=80.0, workers=workers,
                     progress=progress, reuse_unchanged=reuse_unchanged)
    wall = time.perf_counter() - started
    print(file=sys.stderr)
    database.dispose()
    return {"calls": result.calls_scored, "wall_s": wall, "workers": result.workers,
            "calls_changed": result.calls_changed, "findings_added": result.findings_added,
            "findings_removed": result.findings_removed, "agents_changed": len(result.agents_changed),
            "per_check": {k: [v.added, v.removed] for k, v in result.per_check.items()}}


def run_naive(url: str, sample: int) -> dict[str, Any]:
    from qcpipe.scoring.records import call_input, save_score
    from qcpipe.store import repository as repo

    database = Database(url)
    rulebook = parse_rulebook(draft_yaml(database), source="draft")
    started = time.perf_counter()
    calls = changed = last_pk = 0
    with database.session() as session:
        while not sample or calls < sample:
            page = repo.calls_for_scoring(session, month_period(MONTH, ZONE).start, after_pk=last_pk,
                                          limit=min(200, sample - calls) if sample else 200)
            if not page:
                break
            for call in page:
                before = call.qa_score
                save_score(session, call, score_call(call_input(call), rulebook))
                changed += call.qa_score != before
            calls += len(page)
            last_pk = page[-1].id
            session.rollback()  # nothing saved
            session.expunge_all()
    wall = time.perf_counter() - started
    database.dispose()
    return {"calls": calls, "wall_s": wall, "calls_changed": changed}


def _cpu_s() -> float:
    """CPU seconds of this process and its finished workers: what the work costs whatever else runs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_mib() -> tuple[float, float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1), round(own / 1024, 1), round(children / 1024, 1)


def phase(args: argparse.Namespace) -> int:
    if args.phase == "generate":
        started = time.perf_counter()
        out = generate(args.url, args.calls, args.distinct)
        out["wall_s"] = time.perf_counter() - started
    elif args.phase == "preview":
        out = run_preview(args.url, args.workers)
    elif args.phase == "preview-all-checks":
        out = run_preview(args.url, args.workers, reuse_unchanged=False)
    else:
        out = run_naive(args.url, args.naive_sample)
    out["peak_mib"], out["peak_own_mib"], out["peak_children_mib"] = _peak_mib()
    out["cpu_s"] = _cpu_s()
    print("RESULT " + json.dumps(out, ensure_ascii=False))
    return 0


def in_process(args: argparse.Namespace, name: str, url: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", name, "--url", url, "--calls", str(args.calls),
               "--distinct", str(args.distinct),
               "--naive-sample", str(args.naive_sample)] + (["--workers", str(args.workers)] if args.workers else [])
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def bench(args: argparse.Namespace, backend: str, url: str) -> None:
    print(f"== {backend}: {args.calls} calls ==", flush=True)
    made = in_process(args, "generate", url)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    print(f"generate: {made['wall_s']:.1f} s ({args.calls / made['wall_s']:.0f} calls/s, {made['cpu_s']:.0f} CPU s), "
          f"{made['segments']} utterances, {made['findings']} findings, peak {made['peak_mib']} MiB", flush=True)
    fast = in_process(args, "preview", url)
    print(f"preview:  {fast['wall_s']:.1f} s for {fast['calls']} calls ({fast['calls'] / fast['wall_s']:.0f} calls/s, "
          f"{fast['workers']} worker(s), {fast['cpu_s']:.0f} CPU s), peak {fast['peak_own_mib']} MiB "
          f"+ workers {fast['peak_children_mib']} MiB each; "
          f"{fast['calls_changed']} calls changed, findings +{fast['findings_added']} −{fast['findings_removed']}, "
          f"{fast['agents_changed']} agents changed; per check {fast['per_check']}", flush=True)
    if args.all_checks:
        every = in_process(args, "preview-all-checks", url)
        print(f"preview, every check run (no stored findings reused): {every['wall_s']:.1f} s "
              f"({every['calls'] / every['wall_s']:.0f} calls/s, {every['cpu_s']:.0f} CPU s), "
              f"peak {every['peak_own_mib']} MiB + workers {every['peak_children_mib']} MiB; same answer: "
              f"{(every['calls_changed'], every['per_check']) == (fast['calls_changed'], fast['per_check'])}",
              flush=True)
    slow = in_process(args, "naive", url)
    rate = slow["calls"] / slow["wall_s"]
    whole = fast["calls"] / rate
    how = "measured" if slow["calls"] >= fast["calls"] else f"extrapolated from {slow['calls']} calls"
    whole_cpu = slow["cpu_s"] * fast["calls"] / slow["calls"]
    print(f"naive:    {slow['wall_s']:.1f} s for {slow['calls']} calls ({rate:.0f} calls/s, "
          f"{slow['cpu_s']:.0f} CPU s); "
          f"the month: {whole:.0f} s, {whole_cpu:.0f} CPU s ({how}), peak {slow['peak_mib']} MiB", flush=True)
    print(f"ratio:    naive / preview = {whole / fast['wall_s']:.1f}x wall, {whole_cpu / fast['cpu_s']:.1f}x CPU; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=5000,
                        help="distinct transcripts scripted and scored; the month repeats them under new ids")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg", default=os.environ.get("QCPIPE_TEST_PG",
                                                       "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--naive-sample", type=int, default=5000, help="calls the naive re-score runs on (0: all)")
    parser.add_argument("--all-checks", action="store_true",
                        help="also time the preview running every check (no stored findings reused)")
    parser.add_argument("--workers", type=int, default=None, help="preview processes (default: the preview's own)")
    parser.add_argument("--phase", choices=["generate", "preview", "preview-all-checks", "naive"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return phase(args)
    from tests.helpers.databases import PG_VARIABLE, temporary_url

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="qcpipe-bench-whatif-") as folder:
            if backend == "postgres":
                os.environ[PG_VARIABLE] = args.pg
            with temporary_url(backend, Path(folder)) as url:
                bench(args, backend, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
