#!/usr/bin/env python
"""Score stored transcripts with a rulebook and compare with the labels, to tune the rules.

Prints the evaluation table (per-check P/R/F1, micro-F1, clean calls flagged) and every error:
a false positive with the finding's quote, phrase, match kind and score; a false negative with
what the agent said in the window (so you see which wording matched, or should not have).
Uncertain findings (a doubt: they deduct nothing until a monitor confirms them) are listed as
UNCERTAIN and, as in `qcpipe eval`, not counted as violations.

    qcpipe run ../shared/corpus/dev --manifest ../shared/corpus/dev/calls.csv --db sqlite:///var/dev.db
    python scripts/tune_rules.py [--db sqlite:///var/dev.db] [--labels ../shared/corpus/dev/labels]
        [--rules configs/rules/default.yaml] [--reference] [--sweep 0.75,0.8,0.82,0.85]

--reference scores the labels' own reference transcripts instead (what the rules would do with
perfect ASR): a check of the phrase lists apart from recognition errors.
--sweep 0.75,0.8,0.82,0.85 prints micro-F1 and clean calls flagged with both top-level
thresholds set to each value in turn (the rest of the rulebook as it is).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from qcpipe.asr.types import Role, Segment, SpeechRegion
from qcpipe.scoring import CallInput, evaluate, load_rulebook, parse_rulebook, score_call
from qcpipe.store import open_database
from qcpipe.scoring.records import call_input
from qcpipe.store import repository as repo

REPO = Path(__file__).resolve().parents[1]
DEV_LABELS = REPO.parent / "shared" / "corpus" / "dev" / "labels"


def load_calls(db_url: str) -> list[CallInput]:
    """Every transcribed call in a qcpipe database, as the scoring stage takes it."""
    database = open_database(db_url)
    calls, last = [], 0
    with database.session() as session:
        while page := repo.calls_for_scoring(session, after_pk=last, limit=500):
            calls += [call_input(call) for call in page]
            last = page[-1].id
    database.dispose()
    return calls


def load_reference_calls(labels_dir: Path) -> list[CallInput]:
    """CallInputs from the labels' reference turns; each turn is also its speech region."""
    calls = []
    for path in sorted(labels_dir.glob("*.json")):
        label = json.loads(path.read_text(encoding="utf-8"))
        segments = tuple(Segment(channel=0 if t["role"] == "agent" else 1, role=Role(t["role"]), start=t["start"],
                                 end=t["end"], text=t["text"], confidence=1.0) for t in label["turns"])
        speech = tuple(SpeechRegion(s.channel, s.role, s.start, s.end) for s in segments)
        calls.append(CallInput(label["call_id"], segments, speech, label.get("queue_wait_s"), label.get("duration_s")))
    return calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get("QCPIPE_DB", f"sqlite:///{REPO / 'var' / 'dev.db'}"),
                        help="qcpipe database holding the transcribed corpus")
    parser.add_argument("--labels", type=Path, default=DEV_LABELS)
    parser.add_argument("--rules", type=Path, default=REPO / "configs" / "rules" / "default.yaml")
    parser.add_argument("--reference", action="store_true", help="score the labels' reference transcripts")
    parser.add_argument("--quiet", action="store_true", help="print the table only")
    parser.add_argument("--sweep", help="comma-separated thresholds to try for char and pinyin matching")
    args = parser.parse_args()

    rulebook = load_rulebook(args.rules)
    calls = load_reference_calls(args.labels) if args.reference else load_calls(args.db)
    if args.sweep:
        _sweep(args.rules.read_text(encoding="utf-8"), [float(v) for v in args.sweep.split(",")], calls, args.labels)
        return 0
    scores = {call.call_id: score_call(call, rulebook) for call in calls}
    report = evaluate({cid: s.violated for cid, s in scores.items()}, args.labels, rulebook.rule_ids)
    print(f"rulebook {rulebook.name} ({rulebook.content_hash[:12]}) on "
          f"{'reference transcripts' if args.reference else args.db}")
    print(report.format())
    if not args.quiet:
        _print_errors(calls, scores, args.labels)
    return 0


def _sweep(yaml_text: str, thresholds: list[float], calls: list[CallInput], labels: Path) -> None:
    print(f"{'threshold':>9}  {'micro-F1':>8}  {'worst check F1':>16}  clean flagged")
    for value in thresholds:
        text = re.sub(r"(?m)^(  (?:char|pinyin)_threshold:) [0-9.]+", rf"\g<1> {value}", yaml_text)
        rulebook = parse_rulebook(text, source=f"sweep {value}")
        report = evaluate({c.call_id: score_call(c, rulebook).violated for c in calls}, labels, rulebook.rule_ids)
        worst = min((c for c in report.checks if c.f1 is not None), key=lambda c: c.f1)
        print(f"{value:>9.2f}  {report.micro_f1:>8.3f}  {worst.check_id:>10} {worst.f1:.3f}  "
              f"{report.clean_flagged}/{report.clean_calls}")


def _print_errors(calls, scores, labels_dir: Path) -> None:
    by_id = {call.call_id: call for call in calls}
    for call_id, result in scores.items():
        path = labels_dir / f"{call_id}.json"
        if not path.exists():
            continue
        labelled = set(json.loads(path.read_text(encoding="utf-8"))["violations"])
        for finding in result.findings:
            if finding.rule_id not in labelled and not finding.observation:
                # an uncertain finding deducts nothing until confirmed: shown, not counted
                print(f"{'UNCERTAIN' if finding.doubt else 'FP'} {call_id} {finding.rule_id}: {finding.speaker} {finding.start:.1f}-{finding.end:.1f} "
                      f"“{finding.quote}” ≈ {finding.phrase} [{finding.match_kind} {finding.score:.2f}] {finding.note}")
        for rule_id in sorted(labelled - result.violated):
            skipped = [n.reason for n in result.not_applicable if n.rule_id == rule_id]
            said = " | ".join(f"{s.role.value[0]} {s.start:.0f}: {s.text}" for s in
                              sorted(by_id[call_id].segments, key=lambda s: s.start))
            print(f"FN {call_id} {rule_id}: {'not applicable: ' + skipped[0] if skipped else said}")


if __name__ == "__main__":
    sys.exit(main())
