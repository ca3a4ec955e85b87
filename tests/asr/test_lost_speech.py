"""Speech the voice-activity timeline has but Whisper returned nothing for.

Whisper skips a window it judges to be no speech (high no-speech probability, low log
probability), which happens to a window of two voices. Which window that is cannot be chosen
from the outside, so here the first pass is made to return nothing for the agent's greeting;
everything after it (the timeline, decoding the stretch again, the unheard span and what
scoring makes of it) is the real pipeline on real audio.
"""

from __future__ import annotations

import pytest

from qcpipe.asr import Role, load_audio
from qcpipe.asr.transcriber import Transcriber
from qcpipe.scoring import CallInput, score_call
from tests.helpers.paths import DEV_CORPUS

pytestmark = pytest.mark.asr

CALL = DEV_CORPUS / "audio" / "D110003.flac"  # the agent greets 0.8–7.5 s: 您好，欢迎致电市北广场…
GREETING_END = 7.5


@pytest.fixture
def greeting_dropped(monkeypatch, transcriber: Transcriber):
    """The first pass returns no agent words before GREETING_END."""
    decode = Transcriber._decode_regions

    def first_pass(self, buffer, channel, regions, offset):
        words = decode(self, buffer, channel, regions, offset)
        return [(lane, w) for lane, w in words if not (channel == 0 and w.start < GREETING_END)]

    monkeypatch.setattr(Transcriber, "_decode_regions", first_pass)
    return transcriber


def test_voiced_time_without_words_is_decoded_again(greeting_dropped, rulebook):
    transcript = greeting_dropped.transcribe(load_audio(CALL))
    first = next(s for s in transcript.segments if s.role is Role.AGENT)
    # decoded again with the temperature fallback, which samples: 您好 or 你好, both a greeting
    assert first.start < 2.0 and "欢迎" in first.text
    assert transcript.unheard == ()
    result = score_call(CallInput.from_transcript("D110003", transcript, 20.0), rulebook)
    assert "greeting" not in result.violated


def test_what_still_cannot_be_heard_is_an_unheard_span_and_the_greeting_is_not_applicable(
        greeting_dropped, monkeypatch, rulebook):
    monkeypatch.setattr(Transcriber, "_decode_alone", lambda self, samples, lane, at: [])
    transcript = greeting_dropped.transcribe(load_audio(CALL))
    (span,) = transcript.unheard
    assert span.role is Role.AGENT and span.start < 1.5 and span.end > 6.5
    result = score_call(CallInput.from_transcript("D110003", transcript, 20.0), rulebook)
    assert "greeting" not in result.violated
    reason = dict((na.rule_id, na.reason) for na in result.not_applicable)["greeting"]
    assert "unheard" in reason and f"{span.start:.1f}–{span.end:.1f} s" in reason


def test_a_clean_call_has_no_unheard_speech(transcriber):
    transcript = transcriber.transcribe(load_audio(CALL))
    assert transcript.unheard == ()
