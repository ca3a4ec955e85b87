"""Script phrases heard as near-homophones, read again against the audio, with the real model.

Which words GSM or a room makes Whisper mishear depends on the CPU's arithmetic, so here the
first pass is made to write D110001's closing 感谢您的来电 as 展现您的来遍, the way GSM made
Whisper base write it; scoring both readings against the real audio, and what scoring makes
of the result, is the real pipeline.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from qcpipe.asr import Role, load_audio
from qcpipe.asr.transcriber import Transcriber
from qcpipe.scoring import CallInput, score_call
from tests.helpers.paths import DEV_CORPUS
from tests.helpers.transcribers import reading_script

pytestmark = pytest.mark.asr

CALL = DEV_CORPUS / "audio" / "D110001.wav"  # the agent closes at 25.0 s: 感谢您的来电，再见！
CLOSING_START = 24.5
MISHEARD = str.maketrans({"感": "展", "谢": "现", "电": "遍"})


@pytest.fixture
def closing_misheard(monkeypatch):
    """The first pass writes the agent's closing 感谢您的来电 as 展现您的来遍."""
    decode = Transcriber._decode_regions

    def first_pass(self, buffer, channel, regions, offset):
        return [(lane, replace(w, text=w.text.translate(MISHEARD)) if channel == 0 and w.start >= CLOSING_START else w)
                for lane, w in decode(self, buffer, channel, regions, offset)]

    monkeypatch.setattr(Transcriber, "_decode_regions", first_pass)


def agent_closing(transcript) -> str:
    return next(s.text for s in reversed(transcript.segments) if s.role is Role.AGENT)


def test_a_misheard_script_phrase_is_read_as_said(closing_misheard, run_transcriber, rulebook):
    transcript = run_transcriber.transcribe(load_audio(CALL))
    closing = agent_closing(transcript)
    assert "感谢您的来电" in closing and "展现" not in closing
    result = score_call(CallInput.from_transcript("D110001", transcript, 20.0), rulebook)
    assert "closing" not in result.violated and not result.findings


def test_without_the_script_the_closing_stays_as_misheard(closing_misheard, transcriber, rulebook):
    transcript = reading_script(transcriber, ()).transcribe(load_audio(CALL))
    assert "展现您的来遍" in agent_closing(transcript)
    result = score_call(CallInput.from_transcript("D110001", transcript, 20.0), rulebook)
    (finding,) = [f for f in result.findings if f.rule_id == "closing"]
    assert finding.doubt  # misheard near the phrase: a monitor listens before it costs


def test_a_phrase_that_sounds_close_but_was_not_said_is_not_written(closing_misheard, transcriber):
    # 感谢您的耐心 is as close in sound to 展现您的来遍 as 感谢您的来电 (the same 4 of 6
    # syllables), but the audio says 来电
    transcript = reading_script(transcriber, ("感谢您的耐心",)).transcribe(load_audio(CALL))
    assert "耐心" not in agent_closing(transcript)


def test_the_customer_is_not_read_against_the_agents_script(monkeypatch, transcriber):
    scored: list[str] = []
    score = Transcriber._log_likelihoods

    def spied(self, samples, texts):
        scored.extend(texts)
        return score(self, samples, texts)

    monkeypatch.setattr(Transcriber, "_log_likelihoods", spied)
    # the customer says 没有了，谢谢。: as close to this phrase as a stretch gets
    reading_script(transcriber, ("没有了谢谢您",)).transcribe(load_audio(CALL))
    assert scored == []
