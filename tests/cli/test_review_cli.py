"""A monitor's day from the command line: flagged queue → review → appeal → final ruling.

The database is seeded with scripted calls scored by the default rulebook (no ASR): C01, agent
A03, opens with a 禁语 that holds a phone number and no greeting; C02, agent A07, has neither
greeting nor closing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qcpipe.store import open_database
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.rows import seed_call

PHONE = "13812345678"
C01 = [["agent", 0, 4, f"这不关我的事，你打{PHONE}问吧"], ["customer", 4.5, 6, "那好吧"],
       ["agent", 6.5, 9, "感谢您的来电，再见"]]
C02 = [["agent", 0, 2, "喂"], ["customer", 2.5, 5, "我想查一下这个月的话费"], ["agent", 5.5, 9, "一共五十八元"]]


@pytest.fixture
def db_url(tmp_path: Path, rulebook) -> str:
    """A SQLite file holding the two seeded calls."""
    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    database = open_database(url)
    try:
        with database.transaction() as session:
            seed_call(session, C01, call_id="C01", agent="A03", agent_name="张敏", team="一组",
                      started_at="2026-10-08", rulebook=rulebook)
            seed_call(session, C02, call_id="C02", agent="A07", team="二组", started_at="2026-10-09", rulebook=rulebook)
    finally:
        database.dispose()
    return url


def _findings(db_url: str, home: Path) -> list[dict]:
    return [json.loads(line) for line in qcpipe_in_process("export", "findings", "--db", db_url, home=home).stdout.splitlines()]


def test_review_appeal_and_ruling(db_url: str, tmp_path: Path) -> None:
    def run(*args: str, check: bool = True):
        return qcpipe_in_process(*args, "--db", db_url, home=tmp_path, check=check)

    queue = run("flagged").stdout
    ids = [int(i) for i in re.findall(r"#(\d+) ", queue)]
    assert len(ids) == 4 and "2 call(s) with open findings" in queue
    assert queue.index("C01 · score 75 · A03 张敏 · 一组 · 2026-10-08") < queue.index("C02 · score 90 · A07")
    finding = next(f for f in _findings(db_url, tmp_path) if f["finding_id"] == ids[0])
    score = finding["call_score"]

    out = run("review", str(ids[0]), "--overturn", "--by", "李质检", "--comment", "识别错误").stdout
    assert f"score now {score + finding['deduction']:g}" in out
    out = run("review", str(ids[0]), "--confirm", "--by", "王主管").stdout
    assert f"score now {score:g}" in out

    refused = run("appeal", str(ids[0]), "--by", "NOBODY", "--reason", "x", check=False)
    assert refused.returncode == 1 and "not NOBODY" in refused.stderr
    filed = run("appeal", str(ids[0]), "--by", finding["agent_id"], "--reason", "录音听不清").stdout
    appeal_id = re.search(r"appeal (\d+) filed", filed).group(1)
    ruled = run("appeal-decide", appeal_id, "--uphold", "--by", "李质检").stdout
    assert "upheld (final)" in ruled and f"score now {score + finding['deduction']:g}" in ruled
    again = run("review", str(ids[0]), "--confirm", "--by", "王主管", check=False)
    assert again.returncode == 1 and "final" in again.stderr

    history = run("finding", str(ids[0])).stdout
    assert "overturn by 李质检" in history and "appeal" in history
    status = {f["finding_id"]: f["status"] for f in _findings(db_url, tmp_path)}
    assert status[ids[0]] == "overturned"
    assert f"#{ids[0]} " not in run("flagged").stdout
    calib = run("calibration").stdout
    assert finding["rule_id"][:8] in calib


def test_review_needs_one_decision(db_url: str, tmp_path: Path) -> None:
    result = qcpipe_in_process("review", "1", "--by", "李质检", "--db", db_url, home=tmp_path, check=False)
    assert result.returncode == 2 and "exactly one of --confirm or --overturn" in result.stderr


def test_flagged_and_finding_mask_a_stored_phone_number(db_url: str, tmp_path: Path) -> None:
    """A center that keeps the heard text (store_heard_text) still sees numbers masked."""
    config = tmp_path / "qcpipe.toml"
    config.write_text("[privacy]\nstore_heard_text = true\n", encoding="utf-8")
    masked = "这不关我的事，你打***********问吧"

    queue = qcpipe_in_process("--config", str(config), "flagged", "--agent", "A03", "--db", db_url, home=tmp_path).stdout
    assert f"“{masked}”" in queue and PHONE not in queue
    (greeting_id,) = re.findall(r"#(\d+) greeting ", queue)
    shown = qcpipe_in_process("finding", greeting_id, "--db", db_url, home=tmp_path, env={"QCPIPE_CONFIG": str(config)}).stdout
    assert f"“{masked}”" in shown and PHONE not in shown

    config.write_text("[privacy]\nstore_heard_text = true\nmask_phone = false\n", encoding="utf-8")
    heard = qcpipe_in_process("finding", greeting_id, "--db", db_url, home=tmp_path, env={"QCPIPE_CONFIG": str(config)}).stdout
    assert PHONE in heard
