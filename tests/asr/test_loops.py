"""Speech that Whisper heard as a loop: a line from earlier in the window, over and over, in
place of what was said.

Under a room's voices Whisper base replaced three dev calls' closings by such loops
(D110061's 感谢您的来电，再见 came out as 请您提供一下保单号 three times). Whether a window
loops depends on the noise and the CPU's arithmetic, so here the first pass is made to loop over
D110061's closing, on the clean recording; everything after it (finding the loop, decoding the
region again on its own, the unheard span, what scoring makes of it) is the real pipeline on
real audio.
"""

from __future__ import annotations

import pytest

from qcpipe.asr import Role, Word, load_audio
from qcpipe.asr.text import loops
from qcpipe.asr.transcriber import Transcriber
from qcpipe.scoring import CallInput, score_call
from tests.helpers.paths import DEV_CORPUS

pytestmark = pytest.mark.asr

CALL = DEV_CORPUS / "audio" / "D110061.wav"  # the agent's closing 感谢您的来电，再见！ 24.2–26.1 s
CLOSING_START = 23.8
LOOP = "请您提供一下保单号。"


@pytest.fixture
def closing_looped(monkeypatch, transcriber: Transcriber):
    """The first pass hears the agent's thanks (感谢您的来电, all of the closing but its last
    word, 再见) as LOOP three times over."""
    decode = Transcriber._decode_regions

    def first_pass(self, buffer, channel, regions, offset):
        words = decode(self, buffer, channel, regions, offset)
        if channel != 0:
            return words
        closing = [w for _, w in words if w.start >= CLOSING_START][:-1]
        assert closing, "the clean first pass hears the closing"
        start, end = closing[0].start, closing[-1].end
        step = (end - start) / 3
        looped = [(0, Word(LOOP, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.6))
                  for i in range(3)]
        return [(lane, w) for lane, w in words if w not in closing] + looped

    monkeypatch.setattr(Transcriber, "_decode_regions", first_pass)
    return transcriber


def test_a_looped_region_is_decoded_again_on_its_own(closing_looped, rulebook):
    transcript = closing_looped.transcribe(load_audio(CALL))
    agent = [s for s in transcript.segments if s.role is Role.AGENT]
    assert not any(loops(s.text) for s in agent)
    last = agent[-1]
    assert last.start >= CLOSING_START and "感谢" in last.text and "再见" in last.text and LOOP not in last.text
    assert transcript.unheard == ()
    result = score_call(CallInput.from_transcript("D110061", transcript, 20.0), rulebook)
    assert "closing" not in result.violated


def test_a_loop_that_alone_is_heard_as_nothing_is_unheard_and_the_closing_not_applicable(
        closing_looped, monkeypatch, rulebook):
    monkeypatch.setattr(Transcriber, "_decode_alone", lambda self, samples, lane, at: [])
    transcript = closing_looped.transcribe(load_audio(CALL))
    assert not any(LOOP * 2 in s.text for s in transcript.segments)
    (span,) = transcript.unheard
    assert span.role is Role.AGENT and span.start < 24.3 and span.end > 25.0
    result = score_call(CallInput.from_transcript("D110061", transcript, 20.0), rulebook)
    assert "closing" not in result.violated
    reason = dict((na.rule_id, na.reason) for na in result.not_applicable)["closing"]
    assert "unheard" in reason


def test_the_clean_call_has_no_loop_to_decode_again(monkeypatch, transcriber):
    again: list[float] = []
    decode_alone = Transcriber._decode_alone

    def counted(self, samples, lane, at):
        again.append(at)
        return decode_alone(self, samples, lane, at)

    monkeypatch.setattr(Transcriber, "_decode_alone", counted)
    transcript = transcriber.transcribe(load_audio(CALL))
    assert again == [] and transcript.unheard == ()
