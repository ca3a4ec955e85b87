"""Whose voice a channel's speech is (own level vs the room), and which voiced time was heard."""

from __future__ import annotations

import numpy as np
import pytest

from qcpipe.asr import load_audio
from qcpipe.asr.voice import own_speech, speaker_edges, speech_level_db, unheard
from tests.helpers.paths import DEV_CORPUS

RATE = 16_000


@pytest.fixture(scope="module")
def agent() -> np.ndarray:
    return load_audio(DEV_CORPUS / "audio" / "D110003.flac").samples[0]


def vad_regions(samples: np.ndarray) -> list[tuple[int, int]]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=0.5, min_silence_duration_ms=160, speech_pad_ms=400, max_speech_duration_s=30)
    return [(ts["start"], ts["end"]) for ts in get_speech_timestamps(samples, options)]


def seconds(regions: list[tuple[int, int]]) -> float:
    return sum(end - start for start, end in regions) / RATE


def test_a_clean_channel_keeps_its_regions(agent: np.ndarray) -> None:
    regions = vad_regions(agent)
    assert own_speech(agent, regions, 12.0) == regions


def with_room(agent: np.ndarray) -> np.ndarray:
    """Other calls' agents 15 dB under this one, over the whole call."""
    others = [load_audio(DEV_CORPUS / "audio" / name).samples[0] for name in ("D110020.flac", "D110033.wav", "D110047.wav")]
    babble = np.zeros_like(agent)
    for other in others:
        looped = np.tile(other, len(agent) // len(other) + 1)[: len(agent)]
        babble += looped
    frames = agent[: len(agent) // 320 * 320].reshape(-1, 320)
    power = np.mean(frames ** 2, axis=1)
    active_rms = np.sqrt(np.mean(power[power > np.percentile(power, 60)]))
    babble *= active_rms * 10 ** (-15 / 20) / np.sqrt(np.mean(babble ** 2))
    return agent + babble


def test_room_voices_under_the_agent_are_not_the_agents_speech(agent: np.ndarray) -> None:
    """Voice activity finds speech nearly everywhere; the agent's own speech is what is left
    after the level gate."""
    mixed = with_room(agent)
    clean_regions = vad_regions(agent)
    noisy_regions = vad_regions(mixed)
    assert seconds(noisy_regions) > seconds(clean_regions) + 5  # the room fills the pauses
    kept = own_speech(mixed, noisy_regions, 12.0)
    truth = np.zeros(len(agent), bool)
    for start, end in clean_regions:
        truth[start:end] = True
    kept_mask = np.zeros(len(agent), bool)
    for start, end in kept:
        kept_mask[start:end] = True
    assert kept_mask[~truth].sum() / RATE < 0.15 * seconds(noisy_regions)  # little of the room is left
    assert kept_mask[truth].mean() > 0.85  # and the agent's speech is kept


def test_unheard_is_voiced_time_no_word_covers() -> None:
    regions = [(0.0, 10.0), (20.0, 22.0)]
    words = [(0.5, 1.0), (1.2, 2.0), (8.0, 9.5)]
    # 2.0 + slack to 8.0 - slack is 5 s unheard; the second region has no word at all.
    assert unheard(regions, words, 2.0) == [(2.5, 7.5), (20.0, 22.0)]
    assert unheard(regions, words, 6.0) == []
    assert unheard([(0.0, 3.0)], [], 2.0) == [(0.0, 3.0)]
    # VAD cuts one stretch of speech at every pause: touching regions are one stretch.
    assert unheard([(0.0, 1.5), (1.5, 2.5), (2.5, 3.2)], [], 2.0) == [(0.0, 3.2)]



def test_a_regions_level_is_that_of_its_voiced_frames(agent: np.ndarray) -> None:
    # Real speech: the first region of a dev call's agent, then the same 10 dB louder.
    start, end = vad_regions(agent)[0]
    speech = agent[start:end]
    level = speech_level_db(speech)
    assert -40 < level < -5
    assert speech_level_db(speech * 10 ** (10 / 20)) == pytest.approx(level + 10, abs=0.01)
    # The VAD's padding and the pauses in a region do not make it quieter.
    padded = np.concatenate([np.zeros(RATE // 2, dtype=np.float32), speech, np.zeros(RATE, dtype=np.float32)])
    assert speech_level_db(padded) == pytest.approx(level, abs=1.0)
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)
    assert speech_level_db(tone) == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.1)  # −23 dBFS
    assert speech_level_db(np.zeros(100, dtype=np.float32)) is None  # shorter than a frame


def test_the_room_bridged_at_a_regions_edges_is_not_the_speakers_time(agent: np.ndarray) -> None:
    mixed = with_room(agent)
    kept = own_speech(mixed, vad_regions(mixed), 12.0)
    narrowed = speaker_edges(mixed, kept, 12.0, padding=RATE * 4 // 10)
    assert len(narrowed) == len(kept)
    assert all(s0 <= s1 < e1 <= e0 for (s0, e0), (s1, e1) in zip(kept, narrowed))
    truth = np.zeros(len(agent), bool)
    for start, end in vad_regions(agent):
        truth[start:end] = True

    def mask(regions: list[tuple[int, int]]) -> np.ndarray:
        found = np.zeros(len(agent), bool)
        for start, end in regions:
            found[start:end] = True
        return found

    assert mask(narrowed)[~truth].sum() < 0.8 * mask(kept)[~truth].sum()  # less of the room
    assert mask(narrowed)[truth].mean() > 0.85  # as much of the agent
    # a channel without a room: the VAD's padding is the padding given back
    clean = vad_regions(agent)
    assert seconds(speaker_edges(agent, clean, 12.0, padding=RATE * 4 // 10)) > 0.95 * seconds(clean)
