"""Script phrases taken from a second hearing of an agent's channel with the room turned down
(`Transcriber._heard_again`, `with_phrases_heard_again`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import soundfile

import qcpipe.asr.transcriber as transcriber_module
from qcpipe.asr import Role, Word, load_audio
from qcpipe.asr.audio import SAMPLE_RATE
from qcpipe.asr.transcriber import Transcriber, with_phrases_heard_again
from qcpipe.scoring import CallInput, score_call
from tests.helpers.degrade import Context, babble, degrade_file, rng_for
from tests.helpers.paths import DEV_CORPUS
from tests.helpers.transcribers import reading_script

PHRASES = ("再见", "感谢您的来电", "让您久等了")


def _words(*spec: tuple[str, float, float]) -> list[Word]:
    return [Word(text, start, end, 0.8) for text, start, end in spec]


def test_a_phrase_only_the_second_hearing_found_is_written_in_its_place() -> None:
    first = _words(("感谢您的来电", 10.0, 11.2), ("问在", 11.4, 11.8), ("现场", 11.8, 12.2), ("帮您", 12.2, 12.6))
    again = _words(("感谢您的来电", 10.02, 11.2), ("再见", 11.42, 11.9))
    merged = with_phrases_heard_again(first, again, PHRASES)
    assert "".join(w.text for w in merged) == "感谢您的来电再见现场帮您"
    assert [w.start for w in merged] == sorted(w.start for w in merged)
    assert merged[1] == again[1]  # as the second hearing heard and timed it


def test_a_phrase_the_first_hearing_has_is_left_as_it_was_heard() -> None:
    first = _words(("感谢您的来遍", 10.0, 11.2), ("再见", 11.4, 11.9))
    again = _words(("感谢您的来电", 10.3, 11.5), ("再见", 11.5, 12.0))
    assert with_phrases_heard_again(first, again, PHRASES) == first


def test_nothing_else_is_taken_from_the_second_hearing() -> None:
    first = _words(("好的", 1.0, 1.4), ("已经帮您", 1.5, 2.2))
    again = _words(("好的", 1.0, 1.4), ("已经给您", 1.5, 2.2), ("处理了", 2.2, 2.8))
    assert with_phrases_heard_again(first, again, PHRASES) == first


def test_a_phrase_in_a_looping_second_hearing_is_not_taken() -> None:
    first = _words(("好了", 20.0, 20.4))
    again = _words(*[("让您久等了", 20.0 + 0.5 * i, 20.5 + 0.5 * i) for i in range(3)])
    assert with_phrases_heard_again(first, again, PHRASES) == first


def test_a_phrase_lost_from_the_first_hearing_is_added() -> None:
    first = _words(("好的", 1.0, 1.4))
    again = _words(("好的", 1.0, 1.4), ("让您久等了", 1.6, 2.4))
    merged = with_phrases_heard_again(first, again, PHRASES)
    assert [w.text for w in merged] == ["好的", "让您久等了"]


def test_a_phrase_the_first_hearing_holds_is_never_given_up_for_another() -> None:
    # the second hearing heard the room's 欢迎致电 over the agent's 再见
    first = _words(("感谢您的来电", 44.2, 45.4), ("欢迎", 46.0, 46.4), ("再见", 46.4, 46.9))
    again = _words(("感谢您的来电", 44.2, 45.4), ("欢迎带电", 46.0, 46.9))
    assert with_phrases_heard_again(first, again, (*PHRASES, "欢迎致电")) == first


def test_a_phrase_the_second_hearing_came_nearer_to_is_taken_for_reading_again() -> None:
    # D110018 under babble: the thanks heard as 订阅您的来电 (0.81 like 感谢您的来电) and, the room
    # turned down, as 展现您的来电 (0.875): the nearer is what the script step reads again
    first = _words(("欢迎", 50.0, 50.3), ("订阅您的来电", 50.3, 51.2), ("祝您生活愉快", 51.3, 52.4))
    again = _words(("展现您的来电", 50.3, 51.2), ("祝您收货愉快", 51.3, 52.4))
    merged = with_phrases_heard_again(first, again, PHRASES)
    assert [w.text for w in merged] == ["欢迎", "展现您的来电", "祝您生活愉快"]
    assert with_phrases_heard_again(merged, first, PHRASES) == merged  # not back to the farther


# ---------------------------------------------------------------------------------------------
# The real model on a dev call with colleagues' voices in the room

CALL_ID = "D110061"  # the agent's closing 感谢您的来电，再见！ 24.2–26.1 s
CLOSING_START = 23.8
GOODBYE_START = 25.3


@pytest.fixture(scope="module")
def roomy_call(tmp_path_factory) -> Path:
    """D110061 with three other agents' voices 20 dB under its agent (`degrade.babble`)."""
    audio, rate = soundfile.read(str(DEV_CORPUS / "audio" / f"{CALL_ID}.wav"), dtype="float32", always_2d=True)
    roomy = babble(audio.T, rate, Context(CALL_ID, DEV_CORPUS, rng_for(CALL_ID, "babble")), below_db=20.0)
    path = tmp_path_factory.mktemp("room") / f"{CALL_ID}.wav"
    soundfile.write(str(path), roomy.T, rate)
    return path


@pytest.fixture
def goodbye_lost(monkeypatch):
    """The first hearing of the agent's channel loses the closing's 再见; every other decoding
    (the second hearing among them) is the model's own."""
    decode = Transcriber._decode_regions
    first: list[bool] = []

    def hearing(self, buffer, channel, regions, offset):
        words = decode(self, buffer, channel, regions, offset)
        if channel != 0 or first:
            return words
        first.append(True)
        return [(lane, w) for lane, w in words if (w.start + w.end) / 2 < GOODBYE_START]

    monkeypatch.setattr(Transcriber, "_decode_regions", hearing)


@pytest.mark.asr
def test_a_goodbye_the_first_hearing_lost_is_taken_from_the_second(roomy_call, goodbye_lost, run_transcriber,
                                                                  rulebook):
    transcript = run_transcriber.transcribe(load_audio(roomy_call))
    last = [s for s in transcript.segments if s.role is Role.AGENT][-1]
    assert last.start >= CLOSING_START and "再见" in last.text
    assert "closing" not in score_call(CallInput.from_transcript(CALL_ID, transcript, 20.0), rulebook).violated


@pytest.mark.asr
def test_without_a_second_hearing_the_lost_goodbye_is_a_finding(roomy_call, goodbye_lost, run_transcriber, rulebook):
    once = reading_script(run_transcriber, run_transcriber.options.script_phrases)
    once.options = replace(once.options, rehear_room_s=0)
    transcript = once.transcribe(load_audio(roomy_call))
    last = [s for s in transcript.segments if s.role is Role.AGENT][-1]
    assert "再见" not in last.text
    result = score_call(CallInput.from_transcript(CALL_ID, transcript, 20.0), rulebook)
    assert any(f.rule_id == "closing" for f in result.findings)


@pytest.mark.asr
def test_a_channel_without_a_room_is_heard_once(monkeypatch, run_transcriber):
    calls = []
    monkeypatch.setattr(transcriber_module, "turned_down", lambda *args: calls.append(args) or args[0])
    run_transcriber.transcribe(load_audio(DEV_CORPUS / "audio" / f"{CALL_ID}.wav"))
    assert calls == []


ROOM_FIRST_CALL = "D110057"  # with babble 15 dB under the agent, a colleague talks 0.96–1.52 s, the agent from 1.56 s


@pytest.fixture(scope="module")
def room_before_greeting(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("room") / f"{ROOM_FIRST_CALL}.wav"
    degrade_file(DEV_CORPUS / "audio" / f"{ROOM_FIRST_CALL}.wav", path, "babble-15", ROOM_FIRST_CALL, DEV_CORPUS)
    return path


@pytest.mark.asr
def test_the_second_hearing_leaves_out_the_room_at_the_edges_of_the_agents_speech(room_before_greeting, monkeypatch,
                                                                                run_transcriber):
    """The first hearing decodes the greeting's region from the room's voices bridged before it
    (a soft first syllable is not cut); the second hearing decodes each region from the agent's
    own level on, less the voice detector's padding, and never more than the first."""
    decode = Transcriber._decode_regions
    hearings: list[list[tuple[float, float]]] = []

    def recorded(self, buffer, channel, regions, offset):
        if regions and regions[0].lane == 0:  # the agent's lane
            hearings.append([((offset + r.start) / SAMPLE_RATE, (offset + r.end) / SAMPLE_RATE) for r in regions])
        return decode(self, buffer, channel, regions, offset)

    monkeypatch.setattr(Transcriber, "_decode_regions", recorded)
    run_transcriber.transcribe(load_audio(room_before_greeting))
    assert len(hearings) == 2
    first, again = hearings
    assert len(first) == len(again)
    assert first[0][0] < 0.96 and again[0][0] > first[0][0] + 0.1  # less of the colleague before the greeting
    assert again[0][0] >= 1.56 - run_transcriber.options.vad_pad_ms / 1000 - 0.5
    assert all(f_start <= a_start < a_end <= f_end for (f_start, f_end), (a_start, a_end) in zip(first, again))
