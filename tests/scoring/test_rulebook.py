"""Loading and validating rulebooks: typed rules, and errors that name the YAML line."""

from __future__ import annotations

import hashlib
import json
import textwrap

import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers.paths import REPO
from qcpipe.cli import app
from qcpipe.errors import ConfigError
from qcpipe.scoring import RulebookError, load_rulebook, parse_rulebook, rulebook_json_schema
from qcpipe.scoring.matchers import KINDS
from qcpipe.scoring.rulebook import RulebookSpec
from qcpipe.scoring.spec import _checked_pattern, expand_pattern

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


def test_default_rulebook_has_the_fixed_checks(rulebook):
    assert rulebook.rule_ids == ("greeting", "closing", "wait_apology", "forbidden_phrase", "complaint.apology",
                                 "complaint.record", "complaint.followup", "hold_notice", "dead_air", "interruption",
                                 "speech_rate", "agent_hangup", "raised_voice")
    assert rulebook.rule("forbidden_phrase").deduction == 20
    assert str(rulebook.rule("wait_apology").condition) == "queue_wait_s > 30"
    path = REPO / "configs" / "rules" / "default.yaml"
    assert rulebook.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_compliance_is_reported_for_the_checks_that_can_cost_points(rulebook):
    """dead_air deducts 0 by default (an observation): a monthly report shows no rate kept for it."""
    assert "dead_air" in rulebook.rule_ids and rulebook.rule("dead_air").deduction == 0
    assert rulebook.scored_rule_ids == tuple(r for r in rulebook.rule_ids if r != "dead_air")
    vetoing = parse_rulebook(_OBSERVATION_THAT_VETOES)
    assert vetoing.scored_rule_ids == ("silence",)


_OBSERVATION_THAT_VETOES = """version: 1
name: veto without points
checks:
  - id: silence
    title: 静音
    kind: dead_air
    severity: critical
    deduction: 0
    veto: true
    role: agent
    min_silence_s: 10
    notices: [请您稍等]
"""


def test_the_script_is_what_the_agent_is_to_say_never_a_forbidden_phrase(rulebook):
    script = rulebook.script_phrases()
    assert {"感谢您的来电", "请您稍等片刻", "欢迎致电", "给您带来不便"} <= set(script)
    forbidden = {w for rule in rulebook.rules if rule.kind == "forbidden_phrases"
                 for _, matcher in rule.matcher.phrase_lists().values() for w in matcher.wordings()}
    assert forbidden and not forbidden & set(script)
    # short phrases too (a second hearing may find a lost 再见); reading again skips them (asr.script)
    assert {"您好", "再见"} <= set(script) and min(map(len, script)) >= 2
    assert min(map(len, rulebook.script_phrases(min_chars=4))) >= 4
    assert list(script) == sorted(set(script))


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


def test_bad_deduction(mini_rulebook):
    error = _error(mini_rulebook, GREETING.replace("deduction: 5", "deduction: 150"))
    assert error.line == FIRST_CHECK_LINE + 4
    assert error.cause == "check 'greeting': bad deduction: 'deduction' must be between 0 and 100, got 150"
    error = _error(mini_rulebook, GREETING.replace("deduction: 5", "deduction: '5'"))  # no silent coercion
    assert error.line == FIRST_CHECK_LINE + 4 and "must be a number" in error.cause


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


def test_unknown_keys_are_refused_everywhere_with_their_line(mini_rulebook):
    error = _error(mini_rulebook, GREETING.replace("seconds: 15}", "seconds: 15, turn: 1}"))
    assert error.line == FIRST_CHECK_LINE + 6 and error.cause == "check 'greeting': window: unknown field 'turn'"
    error = _error(mini_rulebook, GREETING.replace("[您好]", "\n      - {phrase: 您好, varients: [你好]}"))
    assert error.line == FIRST_CHECK_LINE + 8 and "unknown field 'varients'" in error.cause
    error = _error(mini_rulebook, GREETING + "    matching: {pinyin_equivalents: [[zh, z]]}\n")
    assert error.line == FIRST_CHECK_LINE + 8 and "top-level 'matching:'" in error.cause
    with pytest.raises(RulebookError) as caught:
        parse_rulebook("version: 1\nname: test\nchekcs: []\nchecks:\n" + GREETING, source="mini.yaml")
    assert caught.value.line == 3 and caught.value.cause == "rulebook: unknown field 'chekcs'"


def test_the_kind_field_chooses_the_fields(mini_rulebook):
    # `window` and `require` belong to required_phrases: a forbidden_phrases check refuses them.
    error = _error(mini_rulebook, GREETING.replace("required_phrases", "forbidden_phrases"))
    assert error.line == FIRST_CHECK_LINE + 6 and "unknown field 'window'" in error.cause
    book = mini_rulebook(GREETING + """\
  - id: rude
    title: 禁语
    kind: forbidden_phrases
    severity: critical
    deduction: 20
    role: agent
    phrases: [闭嘴]
""")
    assert [type(rule.matcher) for rule in book.rules] == [KINDS["required_phrases"], KINDS["forbidden_phrases"]]
    assert [rule.line for rule in book.rules] == [FIRST_CHECK_LINE, FIRST_CHECK_LINE + 8]


def test_every_kind_has_a_model_documenting_its_fields():
    for name, kind in KINDS.items():
        fields = kind.spec.model_fields
        assert fields["kind"].annotation.__args__ == (name,)
        own = set(fields) - {"id", "title", "kind", "deduction", "severity", "veto", "condition", "matching"}
        assert own and all(fields[f].description for f in own), f"{name}: describe every field"


def test_schema_describes_the_rulebook_and_accepts_the_default():
    schema = rulebook_json_schema()
    assert schema["title"] == "qcpipe rulebook" and schema["additionalProperties"] is False
    assert set(schema["properties"]["checks"]["items"]["discriminator"]["mapping"]) == set(KINDS)
    deduction = schema["$defs"]["RequiredPhrasesSpec"]["properties"]["deduction"]
    assert (deduction["minimum"], deduction["maximum"]) == (0, 100) and deduction["description"]
    data = yaml.safe_load((REPO / "configs" / "rules" / "default.yaml").read_text(encoding="utf-8"))
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        jsonschema.Draft202012Validator(schema).validate(data)
    # The models keep everything the file says: validate, dump, validate again.
    spec = RulebookSpec.model_validate(data)
    dumped = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == data and RulebookSpec.model_validate(dumped) == spec


def test_rules_schema_command_prints_the_schema_as_json():
    result = CliRunner().invoke(app, ["rules", "schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == rulebook_json_schema()
    assert "一票否决" in result.stdout  # not escaped (ensure_ascii=False)


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


SPEECH_RATE = """\
  - id: speech_rate
    title: 语速
    kind: speech_rate
    severity: minor
    deduction: 3
    role: agent
    min_chars_per_min: 150
    max_chars_per_min: 400
"""


def test_a_speech_rate_check_with_bounds_the_wrong_way_round(mini_rulebook):
    error = _error(mini_rulebook, SPEECH_RATE.replace("min_chars_per_min: 150", "min_chars_per_min: 450"))
    assert error.line == FIRST_CHECK_LINE
    assert "min_chars_per_min (450) must be below max_chars_per_min (400)" in error.cause


def test_a_speech_rate_check_without_any_bound(mini_rulebook):
    error = _error(mini_rulebook, SPEECH_RATE.replace("    min_chars_per_min: 150\n", "")
                   .replace("    max_chars_per_min: 400\n", ""))
    assert error.line == FIRST_CHECK_LINE and "needs at least one of max_chars_per_min" in error.cause


def test_a_timing_check_names_its_bad_threshold(mini_rulebook):
    checks = """\
  - id: interruption
    title: 抢话
    kind: interruption
    severity: minor
    deduction: 3
    role: agent
    min_overlap_s: -2
"""
    error = _error(mini_rulebook, checks)
    assert error.line == FIRST_CHECK_LINE + 6 and "bad threshold: 'min_overlap_s' must be >= 0.1, got -2" in error.cause


def test_a_check_may_deduct_nothing(mini_rulebook):
    (rule,) = mini_rulebook(SPEECH_RATE.replace("deduction: 3", "deduction: 0")).rules
    assert rule.deduction == 0 and not rule.veto


RUDE = """\
  - id: rude
    title: 禁语
    kind: forbidden_phrases
    severity: critical
    deduction: 20
    role: agent
    tone:
      polite_before: [请, (麻烦|劳驾)您]
      help_after: [帮您(查|问)]
      lead_ins: [喂]
      particles: [吧]
      exempt_when: [polite]
    phrases:
      - 大声点
      - {phrase: 我不清楚, exempt_when: [help]}
      - {phrase: 不行, clause: whole, exempt_when: []}
"""


def test_tone_of_forbidden_phrases_is_typed_per_phrase(mini_rulebook):
    kind = mini_rulebook(RUDE).rule("rude").matcher
    loud, unsure, no = (p.tone for p in kind.matcher.phrases)
    assert (loud.polite, loud.help, loud.clause) == (True, False, "any")
    assert loud.polite_before == ("请", "麻烦您", "劳驾您") and loud.help_after == ("帮您查", "帮您问")
    assert (unsure.polite, unsure.help) == (False, True)
    assert (no.polite, no.help, no.clause, no.lead_ins, no.particles) == (False, False, "whole", ("喂",), ("吧",))
    plain = mini_rulebook(RUDE.replace("      exempt_when: [polite]\n", "")).rule("rude").matcher
    assert plain.matcher.phrases[0].tone is None  # nothing to judge: every hit counts


def test_tone_errors_name_the_line(mini_rulebook):
    error = _error(mini_rulebook, RUDE.replace("{phrase: 不行, clause: whole", "{phrase: 不行, clause: hole"))
    assert error.line == FIRST_CHECK_LINE + 15
    assert error.cause == "check 'rude': phrases: item 3: 'clause' must be one of any, start, whole, got 'hole'"
    error = _error(mini_rulebook, RUDE.replace("exempt_when: [help]}", "exempt_when: [nice]}"))
    assert error.line == FIRST_CHECK_LINE + 14 and "must be one of polite, help, got 'nice'" in error.cause
    error = _error(mini_rulebook, RUDE.replace("      help_after: [帮您(查|问)]\n", ""))
    assert error.line == FIRST_CHECK_LINE and "phrase '我不清楚' asks for exempt_when ['help']" in error.cause
    assert "help_after" in error.cause
    error = _error(mini_rulebook, RUDE.replace("lead_ins: [喂]", "lead_ins: ['(喂']"))
    assert error.line == FIRST_CHECK_LINE + 9 and "bad pattern" in error.cause
    # only forbidden_phrases reads the tone of a hit: a required phrase refuses the fields
    error = _error(mini_rulebook, GREETING.replace("[您好]", "[{phrase: 您好, clause: start}]"))
    assert error.line == FIRST_CHECK_LINE + 7 and "unknown field 'clause'" in error.cause


def test_a_phrase_set_takes_the_checks_tone():
    book = parse_rulebook(textwrap.dedent("""\
        version: 1
        name: sets
        phrase_sets:
          blunt: [大声点]
        checks:
          - id: rude
            title: 禁语
            kind: forbidden_phrases
            severity: critical
            deduction: 20
            role: agent
            tone: {polite_before: [请], exempt_when: [polite]}
            phrases: blunt
    """))
    (phrase,) = book.rule("rude").matcher.matcher.phrases
    assert phrase.tone is not None and phrase.tone.polite and phrase.tone.polite_before == ("请",)


@pytest.mark.parametrize("pattern", ["…都不会", "你连…", "你…(都)?", "你……都不会"])
def test_a_gap_stands_between_two_wordings(pattern):
    with pytest.raises(ValueError, match="a gap"):
        _checked_pattern(pattern)
    assert _checked_pattern("你连...都不会") == "你连…都不会"  # three dots are a gap too
