"""A monitor's day from the command line: flagged queue → review → appeal → final ruling; and
every other command that reads the database. On each backend (SQLite, PostgreSQL).

The database is seeded with scripted calls scored by the default rulebook (no ASR): C01, agent
A03, opens with a 禁语 that holds a phone number and no greeting; C02, agent A07, has neither
greeting nor closing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers.cli import qcpipe_in_process
from tests.helpers.rows import seed_call

PHONE = "13812345678"
C01 = [["agent", 0, 4, f"这不关我的事，你打{PHONE}问吧"], ["customer", 4.5, 6, "那好吧"],
       ["agent", 6.5, 9, "感谢您的来电，再见"]]
C02 = [["agent", 0, 2, "喂"], ["customer", 2.5, 5, "我想查一下这个月的话费"], ["agent", 5.5, 9, "一共五十八元"]]


@pytest.fixture
def seeded(db, rulebook) -> str:
    """The URL of a database (each backend) holding the two seeded calls."""
    with db.transaction() as session:
        seed_call(session, C01, call_id="C01", agent="A03", agent_name="张敏", team="一组",
                  started_at="2026-10-08", rulebook=rulebook)
        seed_call(session, C02, call_id="C02", agent="A07", team="二组", started_at="2026-10-09", rulebook=rulebook)
    return db.url


def _findings(db_url: str, home: Path) -> list[dict]:
    return [json.loads(line) for line in qcpipe_in_process("export", "findings", "--db", db_url, home=home).stdout.splitlines()]


def test_review_appeal_and_ruling(seeded: str, tmp_path: Path) -> None:
    def run(*args: str, check: bool = True):
        return qcpipe_in_process(*args, "--db", seeded, home=tmp_path, check=check)

    queue = run("flagged").stdout
    ids = [int(i) for i in re.findall(r"#(\d+) ", queue)]
    assert len(ids) == 4 and "2 call(s) with open findings" in queue
    assert queue.index("C01 · score 75 · A03 张敏 · 一组 · 2026-10-08") < queue.index("C02 · score 90 · A07")
    finding = next(f for f in _findings(seeded, tmp_path) if f["finding_id"] == ids[0])
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
    status = {f["finding_id"]: f["status"] for f in _findings(seeded, tmp_path)}
    assert status[ids[0]] == "overturned"
    assert f"#{ids[0]} " not in run("flagged").stdout
    calib = run("calibration").stdout
    assert finding["rule_id"][:8] in calib


def test_review_needs_one_decision(seeded: str, tmp_path: Path) -> None:
    result = qcpipe_in_process("review", "1", "--by", "李质检", "--db", seeded, home=tmp_path, check=False)
    assert result.returncode == 2 and "exactly one of --confirm or --overturn" in result.stderr


def test_flagged_and_finding_mask_a_stored_phone_number(seeded: str, tmp_path: Path) -> None:
    """A center that keeps the heard text (store_heard_text) still sees numbers masked."""
    config = tmp_path / "qcpipe.toml"
    config.write_text("[privacy]\nstore_heard_text = true\n", encoding="utf-8")
    masked = "这不关我的事，你打***********问吧"

    queue = qcpipe_in_process("--config", str(config), "flagged", "--agent", "A03", "--db", seeded, home=tmp_path).stdout
    assert f"“{masked}”" in queue and PHONE not in queue
    (greeting_id,) = re.findall(r"#(\d+) greeting ", queue)
    shown = qcpipe_in_process("finding", greeting_id, "--db", seeded, home=tmp_path, env={"QCPIPE_CONFIG": str(config)}).stdout
    assert f"“{masked}”" in shown and PHONE not in shown

    config.write_text("[privacy]\nstore_heard_text = true\nmask_phone = false\n", encoding="utf-8")
    heard = qcpipe_in_process("finding", greeting_id, "--db", seeded, home=tmp_path, env={"QCPIPE_CONFIG": str(config)}).stdout
    assert PHONE in heard


def test_every_command_that_reads_the_database(seeded: str, tmp_path: Path) -> None:
    def run(*args: str, code: int = 0) -> str:
        result = qcpipe_in_process(*args, "--db", seeded, home=tmp_path, check=False)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result.stdout + result.stderr

    listing = run("calls")
    assert "C01" in listing and "C02" in listing and "A03" in listing
    assert "这不关我的事，你打***********问吧" in run("transcript", "C01")
    assert "scored 2 calls · 4 findings" in run("score")
    assert "scored 1 calls" in run("score", "--since", "2026-10-09")
    labels = tmp_path / "labels"
    labels.mkdir()
    for call_id, violations in (("C01", ["greeting", "forbidden_phrase"]), ("C02", ["greeting", "closing"])):
        (labels / f"{call_id}.json").write_text(json.dumps({"call_id": call_id, "violations": violations}), encoding="utf-8")
    assert "calls compared: 2" in run("eval", str(labels))
    assert re.search(r"greeting\s.*\b2\b", run("calibration", "--month", "2026-10"))
    assert "center mean 82.5" in run("report", "monthly", "--month", "2026-10")
    utterances = [json.loads(line) for line in run("export", "transcripts").splitlines()]
    assert [u["call_id"] for u in utterances] == ["C01"] * 3 + ["C02"] * 3
    assert len(_findings(seeded, tmp_path)) == 4
    # The seeded calls have no recordings: each example is skipped, saying so (exit code 3).
    skipped = run("examples", "--rule", "greeting", "--out", str(tmp_path / "pack"), code=3)
    assert skipped.count("missing or moved") == 2 and "wrote 0 example(s)" in skipped
