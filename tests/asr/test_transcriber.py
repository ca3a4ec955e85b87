"""Real model, real corpus audio: each party's words land in its own lane, at the right times."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from qcpipe.asr import Role, load_audio, open_audio
from qcpipe.asr.audio import CallAudio
from qcpipe.config import ChannelMap
from qcpipe.errors import AudioError
from tests.helpers.audio import write_audio
from tests.helpers.calls import dev_label

pytestmark = pytest.mark.asr


def _bare(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch)[0] in "LN")


def _cer(hypothesis: str, reference: str) -> float:
    return Levenshtein.distance(_bare(hypothesis), _bare(reference)) / max(1, len(_bare(reference)))


@pytest.fixture(scope="module")
def complaint_call(transcriber, dev_corpus: Path):
    """D110008: a complaint call, MP3, agent on the left channel."""
    return transcriber.transcribe(load_audio(dev_corpus / "audio" / "D110008.mp3"))


def _lane(transcript, role: Role) -> str:
    return "".join(s.text for s in transcript.segments if s.role is role)


def _turns(call_id: str, role: str) -> list[dict]:
    return [t for t in dev_label(call_id)["turns"] if t["role"] == role]


def test_stereo_roles_follow_the_channels(complaint_call) -> None:
    agent_ref = "".join(t["text"] for t in _turns("D110008", "agent"))
    customer_ref = "".join(t["text"] for t in _turns("D110008", "customer"))
    assert _cer(_lane(complaint_call, Role.AGENT), agent_ref) < 0.25
    assert _cer(_lane(complaint_call, Role.CUSTOMER), customer_ref) < 0.35
    # The other party's words never leak into a lane.
    assert _cer(_lane(complaint_call, Role.AGENT), customer_ref) > 0.8
    # The complaint is the customer's: heard in their lane (its last word may come out as a
    # near-homophone, 投诉 as 投注, depending on the CPU's arithmetic), never in the agent's.
    complaint = "你们这个服务太差了"
    assert complaint in _bare(_lane(complaint_call, Role.CUSTOMER))
    assert "服务太差" not in _lane(complaint_call, Role.AGENT)
    assert complaint_call.roles_known


def test_segments_are_turns_placed_where_they_were_spoken(complaint_call) -> None:
    for segment in complaint_call.segments:
        turns = _turns("D110008", segment.role.value)
        overlap = max(min(segment.end, t["end"]) - max(segment.start, t["start"]) for t in turns)
        assert overlap > 0.5 * (segment.end - segment.start) - 0.5, segment
    # The agent's opening line and closing line are separate utterances, first and last.
    agent = [s for s in complaint_call.segments if s.role is Role.AGENT]
    assert agent[0].start < 2.0 and agent[-1].end > 35.0
    assert "再见" in agent[-1].text and "再见" not in agent[0].text


def test_character_times_point_inside_the_segment(complaint_call) -> None:
    for segment in complaint_call.segments:
        times = segment.char_times()
        assert len(times) == len(segment.text)
        assert all(segment.start - 0.01 <= s <= e <= segment.end + 0.01 for s, e in times)
        assert [s for s, _ in times] == sorted(s for s, _ in times)


def test_speech_timeline_per_channel(complaint_call) -> None:
    for role in (Role.AGENT, Role.CUSTOMER):
        regions = [r for r in complaint_call.speech if r.role is role]
        assert regions
        talk = sum(r.end - r.start for r in regions)
        ref = sum(t["end"] - t["start"] for t in _turns("D110008", role.value))
        assert ref * 0.7 < talk < ref * 1.8 + 3
    # The agent is silent while the customer complains (2.85–5.75 s).
    assert not [r for r in complaint_call.speech if r.role is Role.AGENT and r.start < 5.0 and r.end > 3.5]


def test_simplified_output(complaint_call) -> None:
    text = "".join(s.text for s in complaint_call.segments)
    from qcpipe.asr.text import to_simplified

    assert text == to_simplified(text)
    assert "們" not in text and "務" not in text


def test_mono_recording_is_transcribed_with_unknown_roles(transcriber, tmp_path: Path, opening_stereo) -> None:
    data, rate = opening_stereo
    mono = write_audio(tmp_path / "mono.wav", data.mean(axis=1), rate, "PCM_16")
    transcript = transcriber.transcribe(load_audio(mono))
    assert not transcript.roles_known
    assert transcript.segments and all(s.role is Role.UNKNOWN for s in transcript.segments)
    heard = "".join(s.text for s in transcript.segments)
    said = "".join(t["text"] for t in dev_label("D110001")["turns"][:2])  # both parties, one lane
    assert _cer(heard, said) < 0.35


def test_swapped_channel_map(transcriber, tmp_path: Path, opening_stereo) -> None:
    data, rate = opening_stereo
    swapped = write_audio(tmp_path / "swapped.wav", data[:, ::-1], rate, "PCM_16")
    transcript = transcriber.transcribe(load_audio(swapped), ChannelMap(agent=1, customer=0))
    agent = "".join(s.text for s in transcript.segments if s.role is Role.AGENT)
    assert "您好" in agent and all(s.channel == 1 for s in transcript.segments if s.role is Role.AGENT)


def test_silence_gives_no_segments(transcriber) -> None:
    silent = CallAudio(Path("silence.wav"), np.zeros((2, 16000 * 5), dtype=np.float32), 16000)
    transcript = transcriber.transcribe(silent)
    assert transcript.segments == () and transcript.speech == ()


def test_channel_map_beyond_the_recording_is_an_error(transcriber) -> None:
    audio = CallAudio(Path("two.wav"), np.zeros((2, 16000), dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="two.wav: 2 channels"):
        transcriber.transcribe(audio, ChannelMap(agent=0, customer=2))


def test_a_call_read_in_short_blocks_is_heard_as_a_whole(transcriber, dev_corpus: Path, complaint_call) -> None:
    """Long calls are streamed block by block; speech crossing a block's end is carried over,
    so 15-second blocks give the transcript and the timeline of the whole recording (less
    the context Whisper gets from a longer window)."""
    with open_audio(dev_corpus / "audio" / "D110008.mp3") as audio:
        streamed = transcriber.transcribe(audio, block_s=15.0)
    assert streamed.duration == pytest.approx(complaint_call.duration, abs=0.01)
    for role in (Role.AGENT, Role.CUSTOMER):
        assert _cer(_lane(streamed, role), _lane(complaint_call, role)) < 0.2
        regions = [r for r in streamed.speech if r.role is role]
        assert all(a.end <= b.start for a, b in zip(regions, regions[1:]))  # no region twice
        whole = sum(r.end - r.start for r in complaint_call.speech if r.role is role)
        assert sum(r.end - r.start for r in regions) == pytest.approx(whole, rel=0.1)


def test_more_channels_than_two_are_refused_unless_the_others_are_ignored(transcriber) -> None:
    three = CallAudio(Path("three.wav"), np.zeros((3, 16000), dtype=np.float32), 8000)
    with pytest.raises(AudioError, match="three.wav: 3 channels: a call recording is mono or stereo"):
        transcriber.transcribe(three)
    transcript = transcriber.transcribe(three, ChannelMap(agent=2, customer=0, ignore_other_channels=True))
    assert transcript.channels == 3 and transcript.roles_known and transcript.source_rate == 8000
