"""A monitor's day from the command line: flagged queue → review → appeal → final ruling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, qcpipe

pytestmark = pytest.mark.asr


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    qcpipe("run", str(SAMPLES), "--manifest", str(SAMPLES / "calls.csv"), home=home)
    return home


def _findings(home: Path) -> list[dict]:
    return [json.loads(line) for line in qcpipe("export", "findings", home=home).stdout.splitlines()]


def test_review_appeal_and_ruling(home: Path) -> None:
    queue = qcpipe("flagged", home=home).stdout
    ids = [int(i) for i in re.findall(r"#(\d+) ", queue)]
    assert ids and "call(s) with open findings" in queue
    finding = next(f for f in _findings(home) if f["finding_id"] == ids[0])
    score = finding["call_score"]

    out = qcpipe("review", str(ids[0]), "--overturn", "--by", "李质检", "--comment", "识别错误", home=home).stdout
    assert f"score now {score + finding['deduction']:g}" in out
    out = qcpipe("review", str(ids[0]), "--confirm", "--by", "王主管", home=home).stdout
    assert f"score now {score:g}" in out

    refused = qcpipe("appeal", str(ids[0]), "--by", "NOBODY", "--reason", "x", home=home, check=False)
    assert refused.returncode == 1 and "not NOBODY" in refused.stderr
    filed = qcpipe("appeal", str(ids[0]), "--by", finding["agent_id"], "--reason", "录音听不清", home=home).stdout
    appeal_id = re.search(r"appeal (\d+) filed", filed).group(1)
    ruled = qcpipe("appeal-decide", appeal_id, "--uphold", "--by", "李质检", home=home).stdout
    assert "upheld (final)" in ruled and f"score now {score + finding['deduction']:g}" in ruled
    again = qcpipe("review", str(ids[0]), "--confirm", "--by", "王主管", home=home, check=False)
    assert again.returncode == 1 and "final" in again.stderr

    history = qcpipe("finding", str(ids[0]), home=home).stdout
    assert "overturn by 李质检" in history and "appeal" in history
    status = {f["finding_id"]: f["status"] for f in _findings(home)}
    assert status[ids[0]] == "overturned"
    assert "overturned" not in qcpipe("flagged", home=home).stdout
    calib = qcpipe("calibration", home=home).stdout
    assert finding["rule_id"][:8] in calib


def test_review_needs_one_decision(home: Path) -> None:
    result = qcpipe("review", "1", "--by", "李质检", home=home, check=False)
    assert result.returncode == 2 and "exactly one of --confirm or --overturn" in result.stderr
