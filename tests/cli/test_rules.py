"""`qcpipe rules check` and `qcpipe rules test`: what a call center runs after editing the rulebook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import qcpipe
from tests.helpers.paths import REPO

DEFAULT = REPO / "configs" / "rules" / "default.yaml"


def test_check_lists_the_checks(tmp_path: Path) -> None:
    result = qcpipe("rules", "check", str(DEFAULT), home=tmp_path)
    assert "ok" in result.stdout and "13 checks" in result.stdout
    for check in ("greeting", "closing", "wait_apology", "forbidden_phrase", "hold_notice", "complaint.followup",
                  "dead_air", "interruption", "speech_rate", "agent_hangup", "raised_voice"):
        assert check in result.stdout
    assert "observation (−0)  静音（无人说话）" in result.stdout  # dead_air deducts nothing


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


def _error_line(text: str, marker: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if marker in row)


def test_check_as_json_lists_each_check_with_its_line(tmp_path: Path) -> None:
    result = qcpipe("rules", "check", str(DEFAULT), "--format", "json", home=tmp_path)
    document = json.loads(result.stdout)
    text = DEFAULT.read_text(encoding="utf-8")
    assert document["rulebook"] == str(DEFAULT) and len(document["content_hash"]) == 64
    checks = {check["id"]: check for check in document["checks"]}
    assert list(checks) == [row.split("- id:")[1].strip() for row in text.splitlines() if row.startswith("  - id:")]
    assert checks["hold_notice"]["kind"] == "silence_hold_notice"
    assert checks["forbidden_phrase"]["line"] == _error_line(text, "- id: forbidden_phrase")
    assert all(isinstance(check["deduction"], float) and isinstance(check["veto"], bool) for check in checks.values())


def test_test_as_json_gives_each_match_and_how(tmp_path: Path) -> None:
    result = qcpipe("rules", "test", str(DEFAULT), "--text", "喂，这不关我的数", "--role", "customer",
                    "--format", "json", home=tmp_path)
    document = json.loads(result.stdout)
    assert (document["text"], document["role"]) == ("喂，这不关我的数", "customer")
    best = document["matches"][0]
    assert (best["rule_id"], best["phrase"], best["quote"], best["match_kind"]) == (
        "forbidden_phrase", "这不关我的事", "这不关我的数", "pinyin")
    assert best["counts"] is False and best["listens_to"] == "agent"  # a customer saying it costs nothing
    assert document["threshold"] <= best["score"] <= 1
    assert [m["score"] for m in document["matches"]] == sorted((m["score"] for m in document["matches"]), reverse=True)


def test_test_shows_how_the_meaning_model_reads_each_sentence(tmp_path: Path) -> None:
    """A 禁语 in words no list holds is raised for a monitor; a plain answer is not; a listed one is the list's."""
    text = "你自己不按时交费，还好意思来问？好的，还有别的吗"
    document = json.loads(qcpipe("rules", "test", str(DEFAULT), "--text", text, "--format", "json",
                                 home=tmp_path).stdout)
    readings = {r["sentence"]: r for r in document["readings"] if r["rule_id"] == "forbidden_phrase"}
    assert list(readings) == ["你自己不按时交费还好意思来问", "好的还有别的吗"]
    rude, plain = readings.values()
    # the complaint model reads them too, once for its three checks, and would count them for a customer only
    complaint = [r for r in document["readings"] if r["model"] == "complaint-meaning"]
    assert [r["rule_id"] for r in complaint] == ["complaint.apology"] * 2 and not any(r["counts"] for r in complaint)
    assert rude["raised"] and rude["counts"] and rude["probability"] >= rude["threshold"] > plain["probability"]
    assert rude["rule_id"] == "forbidden_phrase" and rude["model"] == "forbidden-meaning" and not plain["raised"]
    shown = qcpipe("rules", "test", str(DEFAULT), "--text", text, home=tmp_path, env={"COLUMNS": "200"}).stdout
    assert "meaning: forbidden_phrase/forbidden-meaning “你自己不按时交费还好意思来问”" in shown
    assert "raised for a monitor (uncertain)" in shown
    listed = qcpipe("rules", "test", str(DEFAULT), "--text", "这不关我的事", home=tmp_path, env={"COLUMNS": "200"}).stdout
    assert "raised for a monitor" not in listed


def test_test_says_which_phrases_their_clause_takes_back_and_why(tmp_path: Path) -> None:
    shown = qcpipe("rules", "test", str(DEFAULT), "--text", "请您说大点声好吗", home=tmp_path,
                   env={"COLUMNS": "200"}).stdout
    assert "no rule phrase matches" in shown and "taken back: forbidden_phrase/forbidden" in shown
    assert "(heard “大点声”): a polite request (请 before it)" in shown
    document = json.loads(qcpipe("rules", "test", str(DEFAULT), "--text", "我不清楚，我帮您问一下", "--format", "json",
                                 home=tmp_path).stdout)
    assert document["matches"] == []
    assert {(t["quote"], t["why"]) for t in document["taken_back"]} >= {("我不清楚", "an offer of help follows (帮您问)")}


def test_a_sentence_matching_nothing_is_an_empty_list_in_json(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nname: 只查禁语\nchecks:\n  - id: forbidden_phrase\n    title: 服务禁语\n"
                     "    kind: forbidden_phrases\n    severity: major\n    deduction: 20\n    role: agent\n"
                     "    phrases: [这不关我的事]\n", encoding="utf-8")
    result = qcpipe("rules", "test", str(rules), "--text", "好的，已经帮您修改好了", "--format", "json", home=tmp_path)
    assert json.loads(result.stdout)["matches"] == []


@pytest.mark.parametrize("command", [("check",), ("test", "--text", "您好")])
def test_an_error_as_json_names_the_file_and_line_with_the_same_exit_code(tmp_path: Path, command) -> None:
    text = DEFAULT.read_text(encoding="utf-8").replace("kind: silence_hold_notice", "kind: silence_hold_notise")
    broken = tmp_path / "rules.yaml"
    broken.write_text(text, encoding="utf-8")
    name, *options = command
    result = qcpipe("rules", name, str(broken), *options, "--format", "json", home=tmp_path, check=False)
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["file"] == str(broken) and error["line"] == _error_line(text, "silence_hold_notise")
    assert "unknown kind" in error["cause"] and error["message"].startswith(f"{broken}, line {error['line']}: ")


def test_the_help_documents_the_json_shape(tmp_path: Path) -> None:
    result = qcpipe("rules", "test", "--help", home=tmp_path)
    flat = " ".join(result.stdout.split())
    for field in ("near_misses", "rule_id", "match_kind", "quote", '{"error": {message, file, line, cause}}'):
        assert field in flat, field


@pytest.mark.parametrize("columns", ["40", "60", "80", "120"])
def test_rule_ids_stay_on_one_line_however_narrow_the_terminal(tmp_path: Path, columns: str) -> None:
    result = qcpipe("rules", "test", str(DEFAULT), "--text", "喂，这不关我的数，请稍等，让您久等了", home=tmp_path,
                    env={"COLUMNS": columns})
    for rule_id in ("forbidden_phrase", "hold_notice", "wait_apology"):
        assert rule_id in result.stdout, (columns, result.stdout)
    assert "pinyin 0.92" in " ".join(result.stdout.replace("│", " ").split())  # and how it matched, whole
