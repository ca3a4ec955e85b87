"""`qcpipe transcript` shows a call's figures (talk time, silence, overlaps, agent speech rate)
the way the web page and the exports have them, and an observation as costing nothing. On each
backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcpipe.calls import call_detail
from qcpipe.config import PrivacySettings
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.rows import seed_call

GREETING = "您好，欢迎致电畅联通信，请问有什么可以帮您？"
CLOSING = "感谢您的来电，祝您生活愉快，再见"
# A 12 s unannounced pause (with the VAD padding): the default rulebook's dead_air observation.
TURNS = [["agent", 0, 4, GREETING], ["customer", 4.5, 7, "我想查一下这个月的账单"],
         ["agent", 7.5, 10, "好的，我帮您查一下"], ["agent", 21.2, 25, "查到了，本月费用已经结清"],
         ["customer", 25.5, 27, "好的谢谢"], ["agent", 27.5, 31, CLOSING]]


@pytest.fixture
def seeded(db, rulebook) -> str:
    with db.transaction() as session:
        seed_call(session, TURNS, call_id="F01", agent="A03", team="一组", started_at="2026-10-08", rulebook=rulebook)
    return db.url


def test_the_transcript_shows_the_calls_figures(seeded: str, db, tmp_path: Path) -> None:
    shown = qcpipe_in_process("transcript", "F01", "--db", seeded, home=tmp_path).stdout
    with db.session() as session:
        stats = call_detail(session, "F01", PrivacySettings()).stats
    assert (f"talk agent {stats.agent_talk_s:.1f}s, customer {stats.customer_talk_s:.1f}s · "
            f"silence {stats.silence_s:.1f}s (longest 12.0s) · overlaps 0 (0.0s) · "
            f"agent rate {stats.agent_chars_per_min:.0f} chars/min") in shown


def test_an_observation_is_exported_as_costing_nothing(seeded: str, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in
            qcpipe_in_process("export", "findings", "--db", seeded, home=tmp_path).stdout.splitlines()]
    assert [(r["rule_id"], r["status"], r["deduction"], r["deducts"], r["call_score"]) for r in rows] == [
        ("dead_air", "noted", 0, False, 100)]
    assert rows[0]["call_longest_silence_s"] == 12.0
    flagged = qcpipe_in_process("flagged", "--db", seeded, home=tmp_path).stdout
    assert "F01" not in flagged
