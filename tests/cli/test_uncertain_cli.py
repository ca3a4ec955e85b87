"""Uncertain findings and unheard speech from the command line: `flagged` marks them (and
`--uncertain` pulls only them), `finding` and `export findings` carry the status and the doubt,
`appeal` refuses them, `review --confirm` makes them deduct, `transcript` shows the speech that
could not be transcribed in its place. On each backend."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from qcpipe.scoring.records import update_call_score
from qcpipe.store import Call, FindingStatus
from qcpipe.store.models import UnheardSpan
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.rows import seed_call

DOUBT = "the window was heard with low confidence (mean word probability 0.42)"
C01 = [["agent", 0, 2, "喂"], ["customer", 2.5, 5, "我想查一下这个月的话费"], ["agent", 5.5, 9, "一共五十八元"],
       ["customer", 26, 27, "好"], ["agent", 27.5, 31, "感谢您的来电，再见"]]
C02 = [["agent", 0, 4, "这不关我的事，你自己去营业厅问吧"], ["customer", 4.5, 6, "那好吧"],
       ["agent", 6.5, 9, "感谢您的来电，再见"]]


@pytest.fixture
def seeded(db, rulebook) -> str:
    """C01 (agent A03): its greeting finding uncertain, agent speech unheard at 12.3–25.0 s.
    C02 (agent A07): open findings only."""
    with db.transaction() as session:
        seed_call(session, C01, call_id="C01", agent="A03", team="一组", started_at="2026-10-08", rulebook=rulebook)
        seed_call(session, C02, call_id="C02", agent="A07", team="二组", started_at="2026-10-09", rulebook=rulebook)
        call = session.scalars(select(Call).where(Call.call_id == "C01")).one()
        greeting = next(f for f in call.findings if f.rule_id == "greeting")
        greeting.status, greeting.doubt = FindingStatus.UNCERTAIN, DOUBT
        update_call_score(call)
        call.unheard = [UnheardSpan(channel=0, role="agent", start_s=12.3, end_s=25.0)]
    return db.url


def test_uncertain_findings_from_the_command_line(seeded: str, tmp_path: Path) -> None:
    def run(*args: str, check: bool = True):
        return qcpipe_in_process(*args, "--db", seeded, home=tmp_path, check=check)

    queue = run("flagged").stdout
    (greeting_id,) = re.findall(r"#(\d+) greeting .*UNCERTAIN: deducts nothing until confirmed", queue)
    assert f"doubt: {DOUBT}" in queue and "12.7s of agent speech unheard" in queue
    assert "2 call(s) with open or uncertain findings (1 uncertain" in queue
    only = run("flagged", "--uncertain").stdout
    assert re.findall(r"#(\d+) ", only) == [greeting_id] and "C02" not in only
    assert "1 call(s) with uncertain findings (1)" in only

    shown = run("finding", greeting_id).stdout
    assert "· uncertain (deducts nothing until a monitor confirms it)" in shown and f"doubt: {DOUBT}" in shown

    exported = {f["finding_id"]: f for f in map(json.loads, run("export", "findings").stdout.splitlines())}
    greeting = exported[int(greeting_id)]
    assert (greeting["status"], greeting["doubt"], greeting["deducts"]) == ("uncertain", DOUBT, False)
    assert greeting["call_unheard_agent_s"] == pytest.approx(12.7)
    score = greeting["call_score"]

    refused = run("appeal", greeting_id, "--by", "A03", "--reason", "我说了您好", check=False)
    assert refused.returncode == 1 and "is uncertain" in refused.stderr and "nothing to appeal" in refused.stderr

    confirmed = run("review", greeting_id, "--confirm", "--by", "李质检").stdout
    assert f"finding #{greeting_id} confirmed" in confirmed and f"score now {score - greeting['deduction']:g}" in confirmed
    assert f"#{greeting_id} " not in run("flagged").stdout
    filed = run("appeal", greeting_id, "--by", "A03", "--reason", "我说了您好").stdout
    assert "pending a monitor's ruling" in filed


def test_the_transcript_shows_the_unheard_speech_in_its_place(seeded: str, tmp_path: Path) -> None:
    shown = qcpipe_in_process("transcript", "C01", "--db", seeded, home=tmp_path).stdout
    assert "12.7s of the agent's speech could not be transcribed (unheard)" in shown
    lines = shown.splitlines()
    at = next(i for i, line in enumerate(lines) if "未能识别 unheard 12.3–25.0 s" in line)
    before = next(i for i, line in enumerate(lines) if "一共五十八元" in line)
    after = next(i for i, line in enumerate(lines) if "感谢您的来电" in line)
    assert before < at < after
    assert "1 uncertain finding(s)" in shown
