"""What the audio shows, end to end: a clean dev call, cut short, and five edits of it, each
made to show one thing the timing and loudness checks look for (tests/helpers/audio_edits.py),
run through the real pipeline (VAD, Whisper, the default rulebook) into SQLite once.

Each edit's check finds it, and none of the five finds anything on the unaltered clip.

    clip          D110054 (clean, 49 s) without 30.1–41.5 s: 38 s, the complaint and the closing
    dead_air      11 s of held line inserted after the agent's apology, nobody announcing it
    interruption  the agent's next reply laid over the customer's two complaints, 0.8 s in
    speech_rate   the whole clip 1.8× as fast (WSOLA, pitch unchanged)
    agent_hangup  the recording cut off 2.6 s into the customer's second complaint
    raised_voice  the agent's 还有其他可以帮您的吗 10 dB louder
"""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from qcpipe.calls import call_detail
from qcpipe.config import PrivacySettings
from qcpipe.ingest import read_manifest
from qcpipe.pipeline import run_batch
from qcpipe.scoring import load_rulebook
from qcpipe.store import Call, FindingStatus, open_database
from tests.helpers import audio_edits as edit
from tests.helpers.audio import settled

pytestmark = pytest.mark.asr

NEW_KINDS = ("dead_air", "interruption", "speech_rate", "agent_hangup", "raised_voice")
BASE = "base"


def _clips() -> dict[str, tuple]:
    base = edit.splice(edit.load_call("D110054"), [(0.0, 30.1), (41.5, None)])
    reply = (25.87, 28.8)  # the agent's 您的问题我已经详细记录，我们会尽快… (times of the clip)
    return {
        BASE: base,
        "dead_air": edit.insert_silence(base, 21.75, 11.0),
        "interruption": edit.overlay(edit.overlay(base, reply, 11.65), reply, 22.8),
        "speech_rate": edit.tempo(base, 1.8),
        "agent_hangup": edit.cut_at(base, 24.6),
        "raised_voice": edit.louder(base, (30.2, 32.2), 10.0),
    }


@pytest.fixture(scope="module")
def scored(tmp_path_factory, batch_transcriber):
    """The database holding the six clips transcribed and scored, and its findings by clip."""
    folder = tmp_path_factory.mktemp("edits")
    rows = []
    for name, (samples, rate) in _clips().items():
        path = edit.write_call(folder / "audio" / f"{name}.wav", samples, rate)
        settled(path)
        rows.append({"call_id": name, "audio": f"audio/{name}.wav", "agent_id": "A01", "agent_name": "张伟",
                     "team": "一组", "started_at": "2026-10-08T10:00:00+08:00", "queue_wait_s": "5"})
    with open(folder / "calls.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    database = open_database(f"sqlite:///{folder / 'qcpipe.db'}")
    summary = run_batch(read_manifest(folder / "calls.csv"), database, lambda: batch_transcriber,
                        asr_fingerprint=batch_transcriber.options.fingerprint(), workers=batch_transcriber.workers,
                        rulebook=load_rulebook())
    assert summary.failed == 0, summary.failures
    with database.session() as session:
        findings = {call.call_id: [(f.rule_id, f.status, f.start_s, f.end_s, f.note) for f in call.findings]
                    for call in session.scalars(select(Call))}
    yield database, findings
    database.dispose()


def _found(findings, clip: str, kind: str) -> list[tuple]:
    return [f for f in findings[clip] if f[0] == kind]


def test_the_unaltered_clip_shows_none_of_it(scored) -> None:
    _, findings = scored
    assert [f for f in findings[BASE] if f[0] in NEW_KINDS] == []


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_each_edit_is_found_by_its_check(scored, kind) -> None:
    _, findings = scored
    assert _found(findings, kind, kind), (kind, findings[kind])


def test_the_findings_point_at_the_edits(scored) -> None:
    _, findings = scored
    ((_, status, start, end, note),) = _found(findings, "dead_air", "dead_air")
    assert status == FindingStatus.NOTED  # an observation in the default rulebook
    assert 21.0 <= start <= 22.5 and 32.0 <= end <= 33.5 and "neither party speaking" in note
    ((_, status, start, _, note),) = _found(findings, "interruption", "interruption")
    assert status == FindingStatus.OPEN and 11.4 <= start <= 12.4 and "2 times" in note
    ((_, _, start, end, _),) = _found(findings, "raised_voice", "raised_voice")
    assert start <= 30.5 and end >= 31.5
    ((_, _, _, end, note),) = _found(findings, "agent_hangup", "agent_hangup")
    assert end == pytest.approx(24.6, abs=0.05) and "still talking" in note


def test_the_calls_figures_show_the_edits(scored) -> None:
    database, _ = scored
    with database.session() as session:
        stats = {name: call_detail(session, name, PrivacySettings()).stats for name in (BASE, "dead_air",
                                                                                          "interruption", "speech_rate")}
        levels = [r.level_db for r in session.scalars(select(Call).where(Call.call_id == BASE)).one().speech]
    assert levels and all(level is not None and -60 < level < 0 for level in levels)  # measured and stored
    assert stats[BASE].overlaps == 0 and stats[BASE].longest_silence_s < 3
    assert 240 <= stats[BASE].agent_chars_per_min <= 320
    assert 10.5 <= stats["dead_air"].longest_silence_s <= 13
    assert stats["interruption"].overlaps == 2 and stats["interruption"].overlap_s >= 4.5
    assert stats["speech_rate"].agent_chars_per_min > 400
