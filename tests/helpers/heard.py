"""What a run heard and found, read back from its database, to compare two ways of running
the same calls (local and Ray, CPU and GPU), and the dev corpus's shortest calls to run."""

from __future__ import annotations

import csv

import soundfile
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select

from qcpipe.scoring.normalize import normalize
from qcpipe.store import Call, Database
from tests.helpers.calls import dev_label
from tests.helpers.paths import DEV_CORPUS


def shortest_dev_calls(count: int) -> list[str]:
    """The dev corpus's `count` shortest calls (about 21–26 s each for five): the model's real work, quickly."""
    with open(DEV_CORPUS / "calls.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda row: soundfile.info(str(DEV_CORPUS / row["audio"])).duration)
    return [row["call_id"] for row in rows[:count]]


def heard(database: Database) -> dict[str, tuple[list[str], set[tuple[str, str, int]]]]:
    """Per call: its segments' text in order, and its findings as (rule, phrase, second)."""
    with database.session() as session:
        return {
            call.call_id: ([s.text for s in call.segments],
                           {(f.rule_id, f.phrase, round(f.start_s)) for f in call.findings})
            for call in session.scalars(select(Call))
        }


def character_error_rate(database: Database, call_ids: list[str]) -> float:
    """The calls' CER against the dev labels' turns, per role (a word in the wrong lane is an
    error), on the scoring stage's normal form of the text, as scripts/bench_asr.py counts it."""
    lanes: dict[tuple[str, str], str] = {}
    with database.session() as session:
        for call in session.scalars(select(Call)):
            for segment in call.segments:
                lanes[call.call_id, segment.role] = lanes.get((call.call_id, segment.role), "") + segment.text
    errors = total = 0
    for call_id in call_ids:
        turns = dev_label(call_id)["turns"]
        for role in ("agent", "customer"):
            reference = normalize("".join(t["text"] for t in turns if t["role"] == role)).chars
            errors += Levenshtein.distance(normalize(lanes.get((call_id, role), "")).chars, reference)
            total += len(reference)
    return errors / total
