"""`qcpipe rules check` and `qcpipe rules test`: what a call center runs after editing the rulebook."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import qcpipe
from tests.helpers.paths import REPO

DEFAULT = REPO / "configs" / "rules" / "default.yaml"


def test_check_lists_the_checks(tmp_path: Path) -> None:
    result = qcpipe("rules", "check", str(DEFAULT), home=tmp_path)
    assert "ok" in result.stdout and "8 checks" in result.stdout
    for check in ("greeting", "closing", "wait_apology", "forbidden_phrase", "hold_notice", "complaint.followup"):
        assert check in result.stdout


def test_check_names_the_line_of_an_error(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace("kind: silence_hold_notice", "kind: silence_hold_notise")
    broken = tmp_path / "rules.yaml"
    broken.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "silence_hold_notise" in row)
    result = qcpipe("rules", "check", str(broken), home=tmp_path, check=False)
    assert result.returncode == 1
    assert f"rules.yaml, line {line}" in result.stderr.replace("\n", " ")
    assert "unknown kind" in result.stderr


def test_homophone_of_a_forbidden_phrase(tmp_path: Path) -> None:
    result = qcpipe("rules", "test", str(DEFAULT), "--text", "喂，这不关我的数", home=tmp_path)
    row = next(line for line in result.stdout.splitlines() if "forbidden_phrase" in line)
    assert "这不关我的事" in row and "这不关我的数" in row and "pinyin" in row and "yes" in row


def test_customer_saying_it_does_not_count(tmp_path: Path) -> None:
    result = qcpipe("rules", "test", str(DEFAULT), "--text", "这不关我的事", "--role", "customer", home=tmp_path)
    assert "no (agent" in result.stdout.replace("\n", " ")


def test_clean_sentence_matches_nothing(tmp_path: Path) -> None:
    result = qcpipe("rules", "test", str(DEFAULT), "--text", "好的，已经帮您修改好了", home=tmp_path)
    assert "no rule phrase matches" in result.stdout
