"""Loading and validating rulebooks: typed rules, and errors that name the YAML line."""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from conftest import REPO
from qcpipe.errors import ConfigError
from qcpipe.scoring import RulebookError, load_rulebook, parse_rulebook
from qcpipe.scoring.spec import expand_pattern

GREETING = """\
  - id: greeting
    title: 开场白
    kind: required_phrases
    severity: minor
    deduction: 5
    role: agent
    window: {from: start, seconds: 15}
    require: [您好]
"""
FIRST_CHECK_LINE = 4  # mini_rulebook: version, name, checks:, then the checks


def test_default_rulebook_has_the_eight_fixed_checks(rulebook):
    assert rulebook.rule_ids == ("greeting", "closing", "wait_apology", "forbidden_phrase", "complaint.apology",
                                 "complaint.record", "complaint.followup", "hold_notice")
    assert rulebook.rule("forbidden_phrase").deduction == 20
    assert str(rulebook.rule("wait_apology").condition) == "queue_wait_s > 30"
    path = REPO / "configs" / "rules" / "default.yaml"
    assert rulebook.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_valid_mini_rulebook(mini_rulebook):
    book = mini_rulebook(GREETING)
    (rule,) = book.rules
    assert (rule.id, rule.kind, rule.deduction, rule.severity, rule.veto, rule.line) == (
        "greeting", "required_phrases", 5.0, "minor", False, FIRST_CHECK_LINE)


def _error(mini_rulebook, checks: str, matching: str = "") -> RulebookError:
    with pytest.raises(RulebookError) as caught:
        mini_rulebook(textwrap.dedent(checks) if checks.startswith("\n") else checks, matching)
    assert isinstance(caught.value, ConfigError)
    assert "mini.yaml" in str(caught.value)
    return caught.value


def test_unknown_kind(mini_rulebook):
    error = _error(mini_rulebook, GREETING.replace("required_phrases", "required_phrase"))
    assert error.line == FIRST_CHECK_LINE + 2 and "unknown kind 'required_phrase'" in error.cause
    assert "required_phrases" in error.cause  # lists the known kinds


def test_bad_window(mini_rulebook):
    error = _error(mini_rulebook, GREETING.replace("from: start", "from: middle"))
    assert error.line == FIRST_CHECK_LINE + 6 and "'from' must be one of start, end" in error.cause
    error = _error(mini_rulebook, GREETING.replace("seconds: 15", "seconds: -3"))
    assert error.line == FIRST_CHECK_LINE + 6 and "bad window" in error.cause


def test_duplicate_id(mini_rulebook):
    error = _error(mini_rulebook, GREETING + GREETING)
    assert error.line == FIRST_CHECK_LINE + 8 and "duplicate id 'greeting'" in error.cause
    assert f"line {FIRST_CHECK_LINE}" in error.cause


def test_missing_field(mini_rulebook):
    error = _error(mini_rulebook, GREETING.replace("    deduction: 5\n", ""))
    assert error.line == FIRST_CHECK_LINE and "missing field 'deduction'" in error.cause


def test_bad_condition(mini_rulebook):
    error = _error(mini_rulebook, GREETING + "    condition: queue_wait > 30\n")
    assert error.line == FIRST_CHECK_LINE + 8 and "unknown field 'queue_wait'" in error.cause
    error = _error(mini_rulebook, GREETING + "    condition: waited a lot\n")
    assert error.line == FIRST_CHECK_LINE + 8 and "bad condition" in error.cause


def test_bad_threshold(mini_rulebook):
    error = _error(mini_rulebook, GREETING, matching="matching:\n  char_threshold: 1.5\n")
    assert error.line == 4 and "bad threshold" in error.cause
    error = _error(mini_rulebook, GREETING + "    matching: {pinyin_threshold: high}\n")
    assert error.line == FIRST_CHECK_LINE + 8 and "bad threshold" in error.cause


def test_unknown_field_and_duplicate_key(mini_rulebook):
    error = _error(mini_rulebook, GREETING + "    dedcution: 5\n")
    assert error.line == FIRST_CHECK_LINE + 8 and "unknown field 'dedcution'" in error.cause
    error = _error(mini_rulebook, GREETING + "    deduction: 6\n")
    assert error.line == FIRST_CHECK_LINE + 8 and "duplicate key 'deduction'" in error.cause


def test_bad_phrase_pattern_and_unknown_phrase_set(mini_rulebook):
    error = _error(mini_rulebook, GREETING.replace("[您好]", "['(您|你好']"))
    assert error.line == FIRST_CHECK_LINE + 7 and "bad pattern" in error.cause
    error = _error(mini_rulebook, GREETING.replace("[您好]", "greetings"))
    assert error.line == FIRST_CHECK_LINE + 7 and "unknown phrase set 'greetings'" in error.cause


def test_yaml_syntax_error_has_a_line(mini_rulebook):
    error = _error(mini_rulebook, GREETING.replace("window: {from: start, seconds: 15}", "window: {from: start"))
    assert error.line is not None and "YAML syntax" in error.cause


def test_load_rulebook_missing_file(tmp_path):
    with pytest.raises(RulebookError, match="cannot read rulebook"):
        load_rulebook(tmp_path / "none.yaml")


def test_phrase_sets_and_per_phrase_veto():
    book = parse_rulebook(textwrap.dedent("""\
        version: 2
        name: sets
        phrase_sets:
          rude: [滚]
        checks:
          - id: rude
            title: 粗话
            kind: forbidden_phrases
            severity: critical
            deduction: 20
            role: agent
            phrases:
              - {phrase: 你有病吧, veto: true}
              - 闭嘴
    """))
    kind = book.rule("rude").matcher
    assert [(p.text, p.veto) for p in kind.matcher.phrases] == [("你有病吧", True), ("闭嘴", False)]


def test_expand_pattern():
    assert expand_pattern("(请|麻烦)您稍等(一下)?") == ["请您稍等一下", "请您稍等", "麻烦您稍等一下", "麻烦您稍等"]
    assert expand_pattern("再见") == ["再见"]
