"""The agent is charged only for what the agent demonstrably said or did not say: speech that
could not be transcribed (unheard) makes an absence check not applicable, and a window heard
with low confidence makes a missing phrase uncertain (no deduction until a monitor confirms)."""

from __future__ import annotations

import dataclasses

from qcpipe.asr.types import Role, SpeechRegion, Word
from qcpipe.scoring import parse_rulebook, score_call
from tests.helpers.calls import make_call

GREETED = ["agent", 10.0, 14.0, "您好，欢迎致电市北广场，请问有什么可以帮您？"]
CLOSED = ["agent", 40.0, 44.0, "感谢您的来电，祝您生活愉快，再见！"]


def unheard(role: str, start: float, end: float) -> SpeechRegion:
    return SpeechRegion(0 if role == "agent" else 1, Role(role), start, end)


def with_unheard(call, *spans: SpeechRegion):
    return dataclasses.replace(call, unheard=spans)


def reasons(result) -> dict[str, str]:
    return {na.rule_id: na.reason for na in result.not_applicable}


def test_a_greeting_missing_after_unheard_agent_speech_is_not_applicable(rulebook):
    call = make_call([["agent", 9.0, 12.0, "请问您要办理什么业务？"], ["customer", 12.5, 14.0, "我查一下账单。"], CLOSED])
    assert "greeting" in score_call(call, rulebook).violated  # heard as it is: no greeting
    # The agent spoke 0.8–8.5 s and nothing could be transcribed there: the greeting may be in it.
    result = score_call(with_unheard(call, unheard("agent", 0.8, 8.5)), rulebook)
    assert "greeting" not in result.violated
    assert "unheard" in reasons(result)["greeting"] and "0.8–8.5 s" in reasons(result)["greeting"]
    assert result.score == 100


def test_unheard_speech_outside_the_window_changes_nothing(rulebook):
    call = make_call([["agent", 1.0, 4.0, "请问您要办理什么业务？"], ["customer", 4.5, 6.0, "我查一下账单。"], CLOSED])
    result = score_call(with_unheard(call, unheard("agent", 25.0, 31.0), unheard("customer", 1.0, 3.0)), rulebook)
    assert "greeting" in result.violated and "greeting" not in reasons(result)


def test_forbidden_phrases_still_fire_on_what_was_heard(rulebook):
    call = make_call([["agent", 9.0, 12.0, "这不关我的事。"], CLOSED])
    result = score_call(with_unheard(call, unheard("agent", 0.5, 8.0)), rulebook)
    assert "forbidden_phrase" in result.violated
    assert "greeting" in reasons(result)


def test_a_complaint_response_window_with_unheard_agent_speech_is_not_applicable(rulebook):
    call = make_call([GREETED, ["customer", 15.0, 18.0, "我要投诉你们，问题一直没人处理。"],
                      ["agent", 30.0, 33.0, "好的，我看一下。"], CLOSED])
    assert {"complaint.apology", "complaint.record"} <= score_call(call, rulebook).violated
    result = score_call(with_unheard(call, unheard("agent", 19.0, 28.0)), rulebook)
    assert not {"complaint.apology", "complaint.record", "complaint.followup"} & result.violated
    assert "19.0–28.0 s" in reasons(result)["complaint.apology"]


def test_a_silence_whose_notice_window_was_unheard_is_not_charged(rulebook):
    turns = [GREETED, ["customer", 15.0, 17.0, "帮我查一下。"], ["agent", 40.0, 42.0, "查到了。"], CLOSED]
    speech = [[0, 10.0, 14.0], [1, 15.0, 17.0], [0, 17.5, 19.0], [0, 40.0, 42.0], [0, 40.0, 44.0]]
    call = make_call(turns, speech=speech)
    assert "hold_notice" in score_call(call, rulebook).violated  # 21 s of silence, unannounced
    result = score_call(with_unheard(call, unheard("agent", 17.5, 19.0)), rulebook)
    assert "hold_notice" not in result.violated and "unheard" in reasons(result)["hold_notice"]


DOUBTFUL = """version: 1
name: doubtful
evidence: {doubtful_confidence: 0.5, doubtful_near_miss: 0.7}
checks:
  - id: greeting
    title: 标准开场白
    kind: required_phrases
    severity: minor
    deduction: 5
    role: agent
    window: {from: start, seconds: 15}
    require: [欢迎致电市北广场]
"""


def heard_with(call, probability: float):
    """The call with every word of every segment heard at `probability`."""
    segments = tuple(dataclasses.replace(s, words=tuple(Word(c, s.start, s.end, probability) for c in s.text))
                     for s in call.segments)
    return dataclasses.replace(call, segments=segments)


def test_a_missing_phrase_heard_with_low_confidence_is_uncertain_and_deducts_nothing():
    rulebook = parse_rulebook(DOUBTFUL)
    call = make_call([["agent", 1.0, 4.0, "请问有什么可以帮您？"]])
    confident = score_call(heard_with(call, 0.9), rulebook)
    assert [f.doubt for f in confident.findings] == [""] and confident.score == 95
    doubtful = score_call(heard_with(call, 0.3), rulebook)
    (finding,) = doubtful.findings
    assert "low confidence" in finding.doubt and "0.30" in finding.doubt
    assert doubtful.score == 100  # deducts nothing until a monitor confirms it


def test_a_missing_phrase_nearly_heard_is_uncertain():
    rulebook = parse_rulebook(DOUBTFUL)
    call = heard_with(make_call([["agent", 1.0, 4.0, "欢迎致电市北，请问有什么可以帮您？"]]), 0.9)
    (finding,) = score_call(call, rulebook).findings
    assert "nearly matches" in finding.doubt  # heard clearly (0.9), but the match threshold is missed by little


def test_without_an_evidence_section_nothing_is_uncertain():
    rulebook = parse_rulebook(DOUBTFUL.replace("evidence: {doubtful_confidence: 0.5, doubtful_near_miss: 0.7}\n", ""))
    (finding,) = score_call(heard_with(make_call([["agent", 1.0, 4.0, "请问有什么可以帮您？"]]), 0.1), rulebook).findings
    assert finding.doubt == ""


def test_a_short_reply_is_not_judged_by_its_word_probabilities():
    """Whisper gives 你说 low probabilities even when it heard it right: a window that short
    missing the greeting is a plain finding."""
    rulebook = parse_rulebook(DOUBTFUL)
    (finding,) = score_call(heard_with(make_call([["agent", 1.0, 2.0, "你说"]]), 0.05), rulebook).findings
    assert finding.doubt == ""


MISHEARD_CLOSING = """version: 1
name: misheard
evidence: {doubtful_near_miss: 0.75, near_miss_confidence: 0.0, near_miss_word_probability: 0.6}
checks:
  - id: closing
    title: 标准结束语
    kind: required_phrases
    severity: minor
    deduction: 5
    role: agent
    window: {from: end, seconds: 20}
    require: {thanks: [感谢您的来电], goodbye: [再见]}
"""


def heard_as(call, probabilities: dict[str, float], usual: float = 0.95):
    """The call with each character a word, heard at `usual` but the characters given."""
    segments = tuple(dataclasses.replace(s, words=tuple(Word(c, s.start, s.end, probabilities.get(c, usual))
                                                        for c in s.text)) for s in call.segments)
    return dataclasses.replace(call, segments=segments)


def test_a_near_miss_with_a_poorly_heard_word_just_there_is_uncertain():
    """感谢您的来电 heard as 展现您的来便 (GSM, a noisy room): the window as a whole was heard well,
    but the words where the phrase nearly is were not."""
    rulebook = parse_rulebook(MISHEARD_CLOSING)
    call = make_call([["agent", 30.0, 40.0, "好的，已经为您提交申请。展现您的来便，再见！"]])
    (finding,) = score_call(heard_as(call, {"便": 0.11}), rulebook).findings
    assert "感谢您的来电" in finding.doubt and "便" in finding.doubt and "0.11" in finding.doubt
    # Heard clearly, the same words are a plain finding; so is a poor word elsewhere in the window.
    for clearly in ({}, {"申": 0.11}):
        (finding,) = score_call(heard_as(call, clearly), rulebook).findings
        assert finding.doubt == "" and finding.phrase == "感谢您的来电"


def test_a_short_phrase_has_no_near_miss_that_counts():
    """再见 matches only exactly (2 characters): 赞贱, however poorly heard, is not the phrase misheard."""
    rulebook = parse_rulebook(MISHEARD_CLOSING)
    call = make_call([["agent", 30.0, 40.0, "感谢您的来电，祝您生活愉快，赞贱。"]])
    (finding,) = score_call(heard_as(call, {"赞": 0.3, "贱": 0.3}), rulebook).findings
    assert finding.phrase == "再见" and finding.doubt == ""


POORLY_HEARD_FORBIDDEN = """version: 1
name: poorly heard
evidence: {said_word_probability: 0.55}
checks:
  - id: forbidden_phrase
    title: 服务禁语
    kind: forbidden_phrases
    severity: major
    deduction: 20
    role: agent
    phrases: [这不关我的事, 有意见你去投诉]
"""


def test_a_forbidden_phrase_heard_poorly_is_uncertain_and_deducts_nothing():
    """A colleague's voice behind a silent agent, heard on the agent's channel as words of low
    probability, may read as a 禁语: it goes to a monitor and costs nothing until confirmed."""
    rulebook = parse_rulebook(POORLY_HEARD_FORBIDDEN)
    call = make_call([["agent", 27.0, 29.0, "请您才这不关我的事小包"]])
    poorly = score_call(heard_as(call, {c: 0.4 for c in "这不关我的事"}), rulebook)
    (finding,) = poorly.findings
    assert "这不关我的事" in finding.doubt and "0.40" in finding.doubt
    assert poorly.score == 100 and not poorly.violated
    # Heard as clearly as the rest of the call, it is charged; poor words elsewhere change nothing.
    for clearly in ({}, {"请": 0.1, "才": 0.1, "小": 0.1, "包": 0.1}):
        result = score_call(heard_as(call, clearly), rulebook)
        assert [f.doubt for f in result.findings] == [""] and result.score == 80


def test_a_forbidden_phrase_said_clearly_once_is_charged_however_poorly_heard_elsewhere():
    rulebook = parse_rulebook(POORLY_HEARD_FORBIDDEN)
    call = make_call([["agent", 5.0, 7.0, "这不关我的事"], ["customer", 8.0, 10.0, "你说什么？"],
                      ["agent", 11.0, 13.0, "这不关我的事"]])
    segments = list(call.segments)
    segments[0] = dataclasses.replace(segments[0], words=tuple(Word(c, 5.0, 7.0, 0.3) for c in segments[0].text))
    segments[2] = dataclasses.replace(segments[2], words=tuple(Word(c, 11.0, 13.0, 0.9) for c in segments[2].text))
    result = score_call(dataclasses.replace(call, segments=tuple(segments)), rulebook)
    (finding,) = result.findings
    assert finding.doubt == "" and finding.start >= 11.0 and result.score == 80


def test_without_a_said_floor_a_poorly_heard_forbidden_phrase_is_charged():
    rulebook = parse_rulebook(POORLY_HEARD_FORBIDDEN.replace("evidence: {said_word_probability: 0.55}\n", ""))
    call = make_call([["agent", 27.0, 29.0, "这不关我的事"]])
    (finding,) = score_call(heard_as(call, {}, usual=0.2), rulebook).findings
    assert finding.doubt == ""
