"""What a call's timing shows: silences and overlaps on the voice-activity timeline (VAD padding
handled), characters inside a span, speech rates, and the call's figures (`CallStats`)."""

from __future__ import annotations

import pytest

from qcpipe.asr.types import Role, SpeechRegion
from qcpipe.scoring.timeline import CallStats, chars_between, mean_rate, overlaps, silences, talk_spans, \
    utterance_rates
from tests.helpers.calls import make_call

PAD = 0.8  # both pads, as the default ASR settings make them (0.4 s a side)


def regions(*spans: tuple[int, float, float]) -> tuple[SpeechRegion, ...]:
    return tuple(SpeechRegion(c, Role.AGENT if c == 0 else Role.CUSTOMER, a, b) for c, a, b in spans)


def test_a_silence_is_measured_with_the_padding_added_back_and_only_mid_call() -> None:
    speech = regions((0, 0.6, 4.4), (1, 4.1, 6.4), (0, 16.2, 20.4))
    assert silences(speech, 10.0, PAD) == [(6.4, 16.2)]  # 9.8 s as stored, 10.6 s as it was
    assert silences(speech, 10.7, PAD) == []
    assert silences(speech, 10.0, 0.0) == []  # without the padding it looks shorter than it was
    assert silences(regions((0, 1.0, 3.0)), 1.0, PAD) == []  # before the first and after the last word: not mid-call


def test_a_partys_regions_are_joined_and_their_padding_taken_off() -> None:
    speech = regions((0, 0.6, 2.4), (0, 2.4, 5.4), (0, 9.6, 10.0), (1, 3.0, 8.0))
    # 0.6–5.4 is one stretch (the pads met); 9.6–10.0 is all padding, no voice.
    assert talk_spans(speech, Role.AGENT, PAD) == [(1.0, 5.0)]
    assert talk_spans(speech, Role.CUSTOMER, PAD) == [(3.4, 7.6)]


def test_an_overlap_names_who_came_in() -> None:
    speech = regions((1, 4.6, 15.4), (0, 7.6, 12.4), (0, 19.6, 24.4), (1, 21.6, 26.4))
    found = overlaps(speech, PAD)
    assert [(round(o.start, 1), round(o.end, 1), o.starter) for o in found] == [
        (8.0, 12.0, Role.AGENT),      # the agent came in while the customer spoke
        (22.0, 24.0, Role.CUSTOMER),  # the customer came in while the agent spoke
    ]
    assert [round(o.seconds, 1) for o in found] == [4.0, 2.0]


def test_voices_starting_together_are_not_one_cutting_in_on_the_other() -> None:
    # The agent's voice leaking onto the customer's channel starts with it.
    (overlap,) = overlaps(regions((0, 5.0, 10.0), (1, 5.2, 9.0)), PAD)
    assert overlap.starter is None
    (overlap,) = overlaps(regions((0, 5.0, 10.0), (1, 5.4, 9.0)), PAD)
    assert overlap.starter is Role.CUSTOMER


def test_the_characters_said_inside_a_span_come_from_the_word_timings() -> None:
    call = make_call([["agent", 8.0, 12.0, "您先听我说，这个问题"]], timed_words=True)  # 0.4 s a character
    assert chars_between(call.segments, 8.0, 10.0) == "您先听我说"  # the comma's time counts, not the comma
    assert chars_between(call.segments, 12.5, 14.0) == ""
    untimed = make_call([["agent", 8.0, 12.0, "您先听我说，这个问题"]])
    # Without word timings every character has the utterance's span: inside only if its middle is.
    assert chars_between(untimed.segments, 8.0, 10.1) == "您先听我说这个问题"
    assert chars_between(untimed.segments, 8.0, 9.9) == ""


def test_rates_leave_out_short_utterances_and_the_other_party() -> None:
    call = make_call([["agent", 0.0, 4.0, "您好，欢迎致电畅联通信，请问有什么可以帮您？"],  # 19 in 4 s
                      ["agent", 5.0, 5.2, "好的好的"],                                  # 4 characters: not timed
                      ["customer", 6.0, 7.0, "我想查一下账单明细"],
                      ["agent", 8.0, 10.0, "好的，我帮您查询一下"]])                      # 9 in 2 s
    rates = utterance_rates(call.segments, Role.AGENT, 5)
    assert [(r.chars, round(r.per_minute)) for r in rates] == [(19, 285), (9, 270)]
    assert mean_rate(rates) == pytest.approx(28 / 6 * 60)
    assert mean_rate([]) is None


def test_call_figures_of_a_stereo_call() -> None:
    call = make_call([["agent", 0.0, 4.0, "您好，欢迎致电畅联通信，请问有什么可以帮您？"],
                      ["customer", 4.5, 7.0, "我家宽带又断了，一直上不了网"],
                      ["agent", 7.5, 11.0, "师傅明天上午上门检修"],
                      ["customer", 10.0, 13.0, "那我明天在家等着"],
                      ["agent", 25.0, 28.0, "感谢您的来电，再见"]])
    stats = CallStats.of(call.segments, call.speech, PAD)
    # Turns taken as padded regions: each stretch 0.8 s shorter, each gap 0.8 s longer.
    assert (stats.agent_talk_s, stats.customer_talk_s) == (round(3.2 + 2.7 + 2.2, 2), round(1.7 + 2.2, 2))
    assert (stats.silence_s, stats.longest_silence_s) == (round(1.3 + 1.3 + 12.8, 2), 12.8)
    assert (stats.overlaps, stats.overlap_s) == (1, 0.2)  # the customer came in at 10.4 s, the agent stopped at 10.6 s
    assert stats.agent_chars_per_min == round((19 + 10 + 8) / (4 + 3.5 + 3) * 60, 1)


def test_where_two_regions_pads_meet_the_pause_is_not_counted_as_silence() -> None:
    speech = regions((0, 0.6, 3.0), (0, 3.0, 5.4), (1, 6.0, 8.4))
    stats = CallStats.of((), speech, PAD)
    assert (stats.silence_s, stats.longest_silence_s) == (round(0.6 + PAD, 2), round(0.6 + PAD, 2))


def test_a_mono_call_has_silences_but_no_parties() -> None:
    call = make_call([["agent", 0.0, 4.0, "您好，请问有什么可以帮您？"], ["customer", 20.0, 22.0, "我想查一下账单"]],
                     mono=True)
    speech = (SpeechRegion(0, Role.UNKNOWN, 0.0, 4.0), SpeechRegion(0, Role.UNKNOWN, 20.0, 22.0))
    stats = CallStats.of(call.segments, speech, PAD)
    assert (stats.agent_talk_s, stats.customer_talk_s, stats.overlaps, stats.overlap_s,
            stats.agent_chars_per_min) == (None, None, None, None, None)
    assert stats.longest_silence_s == 16.8
