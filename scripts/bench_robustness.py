#!/usr/bin/env python
"""Robustness: what line echo, room babble, mobile codecs, packet loss, clipping, levels and tempo
do to the QA results, variant by variant, on the same labelled calls.

For each variant the chosen dev calls are rebuilt degraded (`tests/helpers/degrade.py`; `clean`
is the corpus files unaltered) in a temporary folder with their manifest, then run through
`qcpipe run` and `qcpipe eval` into a fresh SQLite database, each in its own process with the
Python and environment of this script: `PYTHONPATH=/tmp/before python scripts/bench_robustness.py`
benchmarks the qcpipe checked out at /tmp/before. The database is then read with sqlite3 for:

  micro-F1          over (call, check) pairs of the scored calls; a check is predicted when the
                    call has a *deducting* finding of it (status not 'uncertain', 'overturned'
                    or 'noted', an observation of a check that deducts 0); `qcpipe eval`'s own
                    figure is kept in the JSON as eval_micro_f1
  clean flagged     clean calls (no labelled violation) with any deducting finding
  clean uncertain   clean calls with a finding whose status is 'uncertain'
  false deductions  deducting findings on a (call, check) pair the call's label does not violate
  n/a checks        entries of calls.not_applicable ([rule_id, reason]); (unheard) those whose
                    reason mentions "unheard"
  unheard agent s   seconds of agent unheard_spans (0 where the table does not exist)
  wall s            the `qcpipe run` wall time (transcription and scoring)
  failed            calls stored as failed (left out of the figures above, as `qcpipe eval` does)

    python scripts/bench_robustness.py [--corpus ../shared/corpus/dev] [--calls N | --call-ids a,b,c]
                                       [--variants clean,gsm,tempo-0.90,...] [--workers N]
                                       [--json robust.json] [--compare robust-before.json]
                                       [--keep DIR]
    python scripts/bench_robustness.py --cost [--calls N] [--variants clean,crosstalk-c2a-15]

--cost measures what the robustness steps cost instead: the same calls transcribed in one
process with them off (the plain pipeline), on (leak removal, the room left out, lost and
looped speech decoded again), on with the default rulebook's script read again, and on with
that and a channel with a room heard a second time (the default), in rotating order, and the
ratios of the wall times.

Rows are printed as each variant finishes (and the JSON rewritten), then the whole table.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.degrade import CLEAN, VARIANTS, available_variants, degrade_corpus  # noqa: E402

# Kept as strings, not imported: the script also reads databases of older qcpipe versions.
NOT_DEDUCTING = ("uncertain", "overturned", "noted")
COLUMNS = [  # (key, header, width)
    ("micro_f1", "micro-F1", 8),
    ("clean_flagged", "clean flagged", 13),
    ("clean_uncertain", "clean uncertain", 15),
    ("false_deductions", "false deductions", 16),
    ("na_checks", "n/a checks (unheard)", 20),
    ("unheard_agent_s", "unheard agent s", 15),
    ("wall_s", "wall s", 7),
    ("failed", "failed", 6),
]


def _call_ids(corpus: Path, calls: int | None, call_ids: str | None) -> list[str]:
    with open(corpus / "calls.csv", encoding="utf-8", newline="") as handle:
        known = [row["call_id"] for row in csv.DictReader(handle)]
    if call_ids:
        wanted = [c.strip() for c in call_ids.split(",") if c.strip()]
        missing = [c for c in wanted if c not in known]
        if missing:
            sys.exit(f"not in {corpus / 'calls.csv'}: {', '.join(missing)}")
        return wanted
    return known[:calls] if calls else known


def _labels(corpus: Path, call_ids: list[str]) -> dict[str, frozenset[str]]:
    labels = {}
    for call_id in call_ids:
        data = json.loads((corpus / "labels" / f"{call_id}.json").read_text(encoding="utf-8"))
        labels[call_id] = frozenset(data["violations"])
    return labels


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _parse_eval(output: str) -> dict:
    """micro-F1 and clean calls with any finding, as `qcpipe eval` printed them."""
    result: dict = {"eval_micro_f1": None, "eval_clean_flagged": None}
    for line in output.splitlines():
        fields = line.split()
        if fields[:1] == ["micro"] and len(fields) >= 4:
            result["eval_micro_f1"] = None if fields[3] in ("-", "—") else float(fields[3])
        found = re.search(r"clean calls with any finding: (\d+)/(\d+)", line)
        if found:
            result["eval_clean_flagged"] = [int(found[1]), int(found[2])]
    return result


def measure(db_path: Path, labels: dict[str, frozenset[str]]) -> dict:
    """The figures of one variant's database (see the module docstring), whatever its schema version."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        call_columns = _columns(db, "calls")
        scored_expr = "scored_at IS NOT NULL" if "scored_at" in call_columns else "status = 'done'"
        na_expr = "not_applicable" if "not_applicable" in call_columns else "NULL"
        calls = {
            call_id: (pk, status, bool(scored), na)
            for pk, call_id, status, scored, na in db.execute(
                f"SELECT id, call_id, status, {scored_expr}, {na_expr} FROM calls"
            )
            if call_id in labels
        }
        status_expr = "status" if "status" in _columns(db, "findings") else "'open'"
        findings = list(db.execute(f"SELECT call_pk, rule_id, {status_expr} FROM findings"))
        unheard_agent_s = 0.0
        if _columns(db, "unheard_spans"):
            pks = {pk for pk, *_ in calls.values()}
            unheard_agent_s = sum(
                end - start for call_pk, start, end in db.execute(
                    "SELECT call_pk, start_s, end_s FROM unheard_spans WHERE role = 'agent'")
                if call_pk in pks
            )
    finally:
        db.close()

    by_pk = {pk: call_id for call_id, (pk, *_rest) in calls.items()}
    scored = [call_id for call_id, (_, _, is_scored, _) in calls.items() if is_scored]
    deducting: dict[str, set[str]] = {call_id: set() for call_id in scored}
    uncertain: set[str] = set()
    false_deductions = 0
    for call_pk, rule_id, status in findings:
        call_id = by_pk.get(call_pk)
        if call_id not in deducting:
            continue
        if status == "uncertain":
            uncertain.add(call_id)
        if status in NOT_DEDUCTING:
            continue
        deducting[call_id].add(rule_id)
        if rule_id not in labels[call_id]:
            false_deductions += 1

    tp = sum(len(deducting[c] & labels[c]) for c in scored)
    fp = sum(len(deducting[c] - labels[c]) for c in scored)
    fn = sum(len(labels[c] - deducting[c]) for c in scored)
    clean = [c for c in scored if not labels[c]]
    na_reasons = []
    for _, _, _, na in calls.values():
        entries = json.loads(na) if isinstance(na, str) else (na or [])
        na_reasons += [str(entry[1]) if isinstance(entry, (list, tuple)) and len(entry) > 1 else str(entry)
                       for entry in entries]
    return {
        "calls": len(calls),
        "scored": len(scored),
        "failed": sum(1 for _, status, _, _ in calls.values() if status == "failed"),
        "missing": len(labels) - len(calls),
        "tp": tp, "fp": fp, "fn": fn,
        "micro_f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        "clean_flagged": [sum(1 for c in clean if deducting[c]), len(clean)],
        "clean_uncertain": [sum(1 for c in clean if c in uncertain), len(clean)],
        "false_deductions": false_deductions,
        "na_checks": [len(na_reasons), sum(1 for r in na_reasons if "unheard" in r.lower())],
        "unheard_agent_s": round(unheard_agent_s, 2),
    }


def run_variant(variant: str, corpus: Path, call_ids: list[str], labels: dict[str, frozenset[str]],
                workdir: Path, workers: int | None) -> dict:
    """Build the variant's corpus in workdir, run and evaluate it with qcpipe, measure the database."""
    name = variant.replace("+", "plus")
    folder = workdir / name
    started = time.perf_counter()
    degrade_corpus(corpus, folder, variant, call_ids)
    build_s = time.perf_counter() - started
    db_path = workdir / f"{name}.db"
    db_url = f"sqlite:///{db_path}"
    command = [sys.executable, "-m", "qcpipe", "run", str(folder / "audio"), "--manifest", str(folder / "calls.csv"),
               "--db", db_url]
    if workers is not None:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    row: dict = {"variant": variant, "build_s": round(build_s, 2), "wall_s": round(wall_s, 1),
                 "run_exit": run.returncode}
    if run.returncode not in (0, 3):  # 3: finished with some calls failed
        row["error"] = (run.stderr or run.stdout).strip()[-2000:]
        return row
    evaluated = subprocess.run([sys.executable, "-m", "qcpipe", "eval", str(folder / "labels"), "--db", db_url],
                               capture_output=True, text=True)
    row.update(_parse_eval(evaluated.stdout))
    if evaluated.returncode != 0:
        row["eval_error"] = (evaluated.stderr or evaluated.stdout).strip()[-500:]
    row.update(measure(db_path, labels))
    return row


def _cell(row: dict, key: str) -> str:
    if "error" in row and key not in ("wall_s",):
        return "error"
    value = row.get(key)
    if value is None:
        return "-"
    if key == "micro_f1":
        return f"{value:.3f}"
    if key in ("clean_flagged", "clean_uncertain"):
        return f"{value[0]}/{value[1]}"
    if key == "na_checks":
        return f"{value[0]} ({value[1]})"
    if key in ("unheard_agent_s", "wall_s"):
        return f"{value:.1f}" if key == "unheard_agent_s" else f"{value:.0f}"
    return str(value)


def format_table(rows: list[dict], before: dict[str, dict] | None = None) -> str:
    """The plain-text table; with `before`, each cell is 'before → after' for variants in both."""
    cells = []
    for row in rows:
        old = (before or {}).get(row["variant"])
        line = []
        for key, _, _ in COLUMNS:
            now = _cell(row, key)
            line.append(f"{_cell(old, key)} → {now}" if old is not None else now)
        cells.append(line)
    widths = [max([width, len(header)] + [len(line[i]) for line in cells]) for i, (_, header, width) in enumerate(COLUMNS)]
    vwidth = max([16] + [len(r["variant"]) for r in rows])
    lines = [f"{'variant':<{vwidth}} | " + " | ".join(f"{h:>{w}}" for (_, h, _), w in zip(COLUMNS, widths))]
    lines.append("-" * len(lines[0]))
    for row, line in zip(rows, cells):
        lines.append(f"{row['variant']:<{vwidth}} | " + " | ".join(f"{c:>{w}}" for c, w in zip(line, widths)))
    return "\n".join(lines)


def _qcpipe_location() -> str:
    """Where the qcpipe that `sys.executable -m qcpipe` runs comes from (the environment's)."""
    found = subprocess.run([sys.executable, "-c", "import qcpipe, os; print(os.path.dirname(qcpipe.__file__))"],
                           capture_output=True, text=True)
    return found.stdout.strip() or found.stderr.strip()[-300:]


def measure_cost(corpus: Path, call_ids: list[str], variants: list[str], workdir: Path) -> None:
    """Transcription wall time plain, with the robustness steps, with them and the default
    rulebook's script read again, and with all that and a channel with a room heard a second
    time (the default): same calls, same process."""
    from dataclasses import replace

    from qcpipe.asr import AsrOptions, Transcriber, load_audio
    from qcpipe.config import default_models_dir
    from qcpipe.configs import default_rulebook
    from qcpipe.scoring import load_rulebook

    script = load_rulebook(default_rulebook()).script_phrases()
    transcribers = {
        "plain": Transcriber(replace(AsrOptions(), remove_crosstalk=False, background_below_db=0, lost_speech_s=0),
                             default_models_dir()),
        "robust": Transcriber(AsrOptions(), default_models_dir()),
        "script": Transcriber(AsrOptions(script_phrases=script, rehear_room_s=0), default_models_dir()),
        "rehear": Transcriber(AsrOptions(script_phrases=script), default_models_dir()),
    }
    names = list(transcribers)
    for variant in variants:
        folder = degrade_corpus(corpus, workdir / variant, variant, call_ids)
        audio = [load_audio(path) for path in sorted((folder / "audio").iterdir())]
        seconds = dict.fromkeys(names, 0.0)
        for index, call in enumerate(audio):  # rotate which goes first: the machine is noisy
            for name in names[index % len(names):] + names[:index % len(names)]:
                started = time.perf_counter()
                transcribers[name].transcribe(call)
                seconds[name] += time.perf_counter() - started
        minutes = sum(call.duration for call in audio) / 60
        print(f"{variant:<18} {len(audio)} calls, {minutes:.1f} min of audio: plain {seconds['plain']:.1f} s, "
              f"with the robustness steps {seconds['robust']:.1f} s (ratio {seconds['robust'] / seconds['plain']:.2f}), "
              f"and the script read again {seconds['script']:.1f} s "
              f"(ratio {seconds['script'] / seconds['plain']:.2f}; {seconds['script'] / seconds['robust']:.2f} "
              f"of the robustness steps alone), and a room heard again {seconds['rehear']:.1f} s "
              f"({seconds['rehear'] / seconds['script']:.2f} of the script read again)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "dev")
    parser.add_argument("--calls", type=int, help="the first N call ids of calls.csv (default all)")
    parser.add_argument("--call-ids", help="comma-separated call ids (instead of --calls)")
    parser.add_argument("--variants", help="comma-separated, default clean and every available variant: "
                        + ", ".join([CLEAN, *VARIANTS]))
    parser.add_argument("--workers", type=int, help="passed to `qcpipe run --workers` (default: the CLI's)")
    parser.add_argument("--json", type=Path, help="write the rows here (rewritten after each variant)")
    parser.add_argument("--compare", type=Path, help="a JSON of an earlier run: print before → after")
    parser.add_argument("--keep", type=Path, help="build corpora and databases here and keep them (default: a temp dir)")
    parser.add_argument("--cost", action="store_true", help="time transcription with the robustness steps on and off")
    args = parser.parse_args()

    corpus = args.corpus.resolve()
    call_ids = _call_ids(corpus, args.calls, args.call_ids)
    labels = _labels(corpus, call_ids)
    available = available_variants()
    variants = [v.strip() for v in args.variants.split(",")] if args.variants else [CLEAN, *available]
    unknown = [v for v in variants if v != CLEAN and v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variants: {', '.join(unknown)}; known: {', '.join([CLEAN, *VARIANTS])}")
    missing = [v for v in variants if v != CLEAN and v not in available]
    if missing:
        sys.exit(f"not available on this machine (a tool is missing): {', '.join(missing)}")
    before = None
    if args.compare:
        before = {row["variant"]: row for row in json.loads(args.compare.read_text(encoding="utf-8"))["rows"]}

    if args.cost:
        with tempfile.TemporaryDirectory(prefix="bench-robustness-") as tmp:
            measure_cost(corpus, call_ids, variants, Path(tmp))
        return
    location = _qcpipe_location()
    clean_calls = sum(1 for c in call_ids if not labels[c])
    print(f"{len(call_ids)} calls ({clean_calls} clean) from {corpus}; qcpipe from {location}; "
          f"variants: {', '.join(variants)}", flush=True)
    report = {"corpus": str(corpus), "call_ids": call_ids, "qcpipe": location, "python": sys.executable,
              "workers": args.workers, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": []}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-robustness-") as tmp:
        workdir = args.keep.resolve() if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for variant in variants:
            print(f"[{time.strftime('%H:%M:%S')}] {variant} …", file=sys.stderr, flush=True)
            row = run_variant(variant, corpus, call_ids, labels, workdir, args.workers)
            rows.append(row)
            if "error" in row:
                print(f"{variant}: qcpipe run exited {row['run_exit']}: {row['error'][-500:]}", file=sys.stderr, flush=True)
            print(format_table([row], before).splitlines()[-1], flush=True)
            if args.json:
                report["rows"] = rows
                args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    print()
    print(format_table(rows, before))
    differing = [r["variant"] for r in rows if r.get("eval_micro_f1") is not None and r.get("micro_f1") is not None
                 and abs(r["eval_micro_f1"] - r["micro_f1"]) > 5e-4]
    print(f"({len(call_ids)} calls, {clean_calls} clean; micro-F1 and clean flagged count deducting findings only, "
          "status not uncertain/noted/overturned" + (f"; `qcpipe eval` says otherwise for {', '.join(differing)}: "
                                              "see eval_micro_f1 in the JSON" if differing else "") + ")")
    if before is not None:
        print(f"(cells are before → after; before = {args.compare})")


if __name__ == "__main__":
    main()
