"""score_call: findings with evidence, the score maths, and checks that cannot be applied."""

from __future__ import annotations

import dataclasses

import pytest

from qcpipe.asr.types import Role
from qcpipe.scoring import MatchKind, score_call
from qcpipe.scoring.engine import call_score
from tests.helpers.calls import make_call

CLEAN = [
    ["agent", 1.0, 7.0, "您好，欢迎致电市北广场，很高兴为您服务，请问有什么可以帮您？"],
    ["customer", 7.5, 9.5, "我想修改一下收货地址。"],
    ["agent", 10.0, 12.0, "好的，已经帮您修改好了。"],
    ["customer", 12.5, 14.0, "没有了，谢谢。"],
    ["agent", 14.5, 18.0, "感谢您的来电，祝您生活愉快，再见！"],
]
RUDE = [
    ["agent", 1.0, 2.0, "喂，说吧。"],
    ["customer", 2.5, 4.0, "那我还要等多久？"],
    ["agent", 4.5, 9.0, "这不关我的事，我不清楚，您打别的电话吧。我都忙死了，有什么事情快说。"],
    ["agent", 9.5, 11.0, "我是新手，嘴巴干净一点！"],
    ["agent", 11.5, 12.5, "好了，就这样吧。"],
]


def test_clean_call_scores_100(rulebook):
    result = score_call(make_call(CLEAN), rulebook)
    assert result.findings == () and result.score == 100 and result.not_applicable == ()
    assert result.rulebook_hash == rulebook.content_hash


def test_deductions_add_up_and_floor_at_zero(rulebook):
    result = score_call(make_call(RUDE), rulebook)
    forbidden = [f for f in result.findings if f.rule_id == "forbidden_phrase"]
    assert len(forbidden) == 7  # each distinct phrase once (我不清楚 is a 禁语 of its own)
    assert result.violated == {"greeting", "closing", "forbidden_phrase"}
    assert sum(f.deduction for f in result.findings) == 5 + 5 + 7 * 20
    assert result.score == 0


def test_score_is_100_minus_deductions(rulebook):
    turns = CLEAN[:-1] + [["agent", 14.5, 16.0, "好了，就这样吧。"]]
    assert score_call(make_call(turns), rulebook).score == 95


def test_veto_phrase_zeroes_the_call(mini_rulebook):
    book = mini_rulebook("""\
  - id: rude
    title: 粗话
    kind: forbidden_phrases
    severity: critical
    deduction: 1
    role: agent
    phrases:
      - {phrase: 你有病吧, veto: true}
      - 闭嘴
""")
    mild = score_call(make_call([["agent", 1, 2, "闭嘴"]]), book)
    assert mild.score == 99 and not mild.findings[0].veto
    vetoed = score_call(make_call([["agent", 1, 2, "你有病吧"]]), book)
    assert vetoed.score == 0 and vetoed.findings[0].veto


def test_call_score_maths():
    assert call_score([]) == 100


def test_finding_evidence_points_at_the_characters(rulebook):
    turns = [["agent", 1.0, 7.0, "您好，欢迎致电市北广场"], ["customer", 7.5, 9.0, "那我还要等多久？"],
             ["agent", 10.0, 16.0, "好的，这不关我的数，我不清楚"]]
    result = score_call(make_call(turns, timed_words=True), rulebook)
    # 我不清楚 is a 禁语 of its own; this test follows the misheard one
    finding, unsure = sorted((f for f in result.findings if f.rule_id == "forbidden_phrase"), key=lambda f: f.start)
    assert unsure.phrase == "我不知道" and unsure.quote == "我不清楚"
    assert finding.quote == "这不关我的数"
    assert finding.phrase == "这不关我的事" and finding.wording == "这不关我的事"
    assert finding.match_kind is MatchKind.PINYIN and 0.82 <= finding.score < 1
    assert finding.speaker is Role.AGENT
    assert finding.start == pytest.approx(10.0 + 3 * 6 / 14, abs=0.01)
    assert finding.end == pytest.approx(10.0 + 9 * 6 / 14, abs=0.01)
    assert finding.rulebook_hash == rulebook.content_hash and finding.call_id == "T0001"
    assert finding.severity == "critical" and finding.title == "服务禁语"


def test_missing_phrase_quotes_the_window(rulebook):
    result = score_call(make_call(RUDE), rulebook)
    (greeting,) = [f for f in result.findings if f.rule_id == "greeting"]
    assert greeting.match_kind is MatchKind.ABSENT and greeting.quote == "喂，说吧。"
    assert (greeting.start, greeting.end) == (1.0, 2.0)
    assert greeting.phrase == "您好" and "salutation" in greeting.note


def test_customer_speech_never_costs_the_agent(rulebook):
    turns = CLEAN[:2] + [["customer", 9.0, 12.0, "这不关我的事，我也没办法，嘴巴干净一点"]] + CLEAN[2:]
    assert score_call(make_call(turns), rulebook).score == 100


def test_mono_call_reports_checks_not_applicable(rulebook):
    result = score_call(make_call(RUDE, mono=True), rulebook)
    assert result.findings == () and result.score == 100
    skipped = {n.rule_id: n.reason for n in result.not_applicable}
    assert set(skipped) == set(rulebook.rule_ids) - {"wait_apology"}  # queue 20 s: not concerned
    assert "mono" in skipped["greeting"]


def test_unknown_condition_field_is_not_applicable(rulebook):
    result = score_call(make_call(CLEAN, queue_wait_s=None), rulebook)
    assert [(n.rule_id, "queue_wait_s unknown" in n.reason) for n in result.not_applicable] == [("wait_apology", True)]


def test_no_speech_timeline_hold_check_not_applicable(rulebook):
    call = dataclasses.replace(make_call(CLEAN), speech=())
    result = score_call(call, rulebook)
    # The checks that read the voice-activity timeline say why they could not; the rest ran.
    assert [n.rule_id for n in result.not_applicable] == ["hold_notice", "dead_air", "interruption", "raised_voice"]
    assert all("no speech timeline" in n.reason for n in result.not_applicable)


def test_results_are_frozen_and_inputs_untouched(rulebook):
    call = make_call(RUDE)
    before = dataclasses.astuple(call)
    result = score_call(call, rulebook)
    assert dataclasses.astuple(call) == before
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 100  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.findings[0].deduction = 0  # type: ignore[misc]


def test_segments_in_any_order(rulebook):
    assert score_call(make_call(list(reversed(CLEAN))), rulebook).score == 100


def test_char_time_agrees_with_segment_char_times():
    from qcpipe.asr.types import Segment, Word
    from qcpipe.scoring.matchers.view import char_time

    words = (Word("您好,", 1.0, 1.6, 0.9), Word("欢迎", 2.0, 2.4, 0.9), Word("致电。", 2.4, 3.0, 0.9))
    segment = Segment(0, Role.AGENT, 1.0, 3.0, "您好,欢迎致电。", 0.9, words)
    assert [char_time(segment, i) for i in range(len(segment.text))] == segment.char_times()
    untimed = dataclasses.replace(segment, words=())
    assert char_time(untimed, 3) == (1.0, 3.0) == untimed.char_times()[3]


def test_backchannel_does_not_split_the_greeting_turn(rulebook):
    turns = [["agent", 1.0, 2.5, "您好，"], ["customer", 2.6, 2.9, "嗯。"],
             ["agent", 3.0, 6.0, "欢迎致电市北广场。"], ["customer", 6.5, 9.0, "我想办理退货。"]]
    greeting = [f for f in score_call(make_call(turns), rulebook).findings if f.rule_id == "greeting"]
    assert greeting == []


def test_call_without_speech(rulebook):
    result = score_call(make_call([]), rulebook)
    assert result.score == 100 and result.findings == ()
    assert {n.reason for n in result.not_applicable} == {"no speech recognised in this call"}


def test_an_observation_is_reported_costs_nothing_and_is_no_violation(mini_rulebook):
    checks = """\
  - id: dead_air
    title: 静音
    kind: dead_air
    severity: minor
    deduction: {deduction}
    role: agent
    min_silence_s: 10
"""
    call = make_call([["agent", 1.0, 4.0, "我帮您查询一下。"], ["agent", 16.0, 18.0, "查到了。"]])
    observed = score_call(call, mini_rulebook(checks.format(deduction=0)))
    (finding,) = observed.findings
    assert finding.observation and finding.match_kind is MatchKind.MEASURED and finding.note.startswith("12.0 s")
    assert observed.score == 100 and observed.violated == frozenset() and observed.applied == ("dead_air",)
    charged = score_call(call, mini_rulebook(checks.format(deduction=2)))
    assert not charged.findings[0].observation and charged.score == 98 and charged.violated == {"dead_air"}
