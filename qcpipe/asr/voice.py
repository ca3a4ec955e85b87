"""Whose voice a channel's speech is, and which of it was heard.

Voice activity detection answers "is someone speaking?", not "is this party speaking?". In a
call center the agent's headset also picks up the room: colleagues on their own calls, 15 dB
or so under the agent. Silero marks that babble as speech, so the pauses a hold check looks
for fill up, talk time grows, and Whisper decodes the colleagues' words as the agent's.
`own_speech` keeps the stretches at the level of the channel's own speaker.

Whisper can also return nothing for speech it plainly had: a window of two voices, or of
noise it decides is silence. `unheard` finds the voiced time no recognised word covers, so
that the transcriber can decode it again and, if still nothing comes, record it: a check
that looks for a phrase the agent may have said there cannot charge the agent for missing it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from qcpipe.asr.audio import SAMPLE_RATE

FRAME = SAMPLE_RATE // 50  # 20 ms
# The channel's own level: this percentile of its (smoothed) frame levels. The speaker on
# the headset is the loudest thing on the channel, and speaks well over 5 % of any call.
OWN_LEVEL_PERCENTILE = 95
ENVELOPE_FRAMES = 15  # levels smoothed by a 300 ms running maximum: syllable gaps are not pauses
# Below-level stretches shorter than this stay in a region: a breath or a soft word is still
# the speaker's (a sentence often ends 12+ dB under its loudest syllables), and the VAD's own
# padding (400 ms) must not be cut away.
MIN_BACKGROUND_S = 1.5
MIN_OWN_S = 0.3  # a region with less than this at the speaker's level is not the speaker
# A piece cut out of the room's voices needs more: one loud frame of the room is already 0.3 s
# of envelope.
MIN_OWN_IN_ROOM_S = 0.5
# A stretch at the speaker's level most of the time is the speaker; one where the level is
# reached only here and there is the room's loudest moments (the speaker's envelope stays up
# through a sentence: syllable gaps are shorter than the 300 ms running maximum).
OWN_SHARE = 0.5
# Voiced time within this distance of a recognised word counts as heard (VAD padding, word
# timing slop).
HEARD_SLACK_S = 0.5


def own_speech(samples: np.ndarray, regions: list[tuple[int, int]], below_db: float) -> list[tuple[int, int]]:
    """`regions` (sample spans of voice activity) without the stretches of at least
    `MIN_BACKGROUND_S` whose level stays more than `below_db` under the channel's own speaker.

    A channel whose speech is all at one level (no background voices) keeps its regions as
    they are.
    """
    if not regions or len(samples) < FRAME:
        return regions
    own = _at_own_level(samples, below_db)
    kept: list[tuple[int, int]] = []
    for start, end in regions:
        first, last = start // FRAME, min(-(-end // FRAME), len(own))
        runs = _runs(own[first:last])
        if len(runs) == 1 and runs[0][2]:
            kept.append((start, end))
            continue
        # Background runs long enough to matter split the region; short ones are bridged.
        pieces: list[list[tuple[int, int, bool]]] = [[]]  # the runs of each piece
        for run in runs:
            run_start, run_end, is_own = run
            if not is_own and (run_end - run_start) * FRAME >= MIN_BACKGROUND_S * SAMPLE_RATE:
                pieces.append([])
            else:
                pieces[-1].append(run)
        minimum = MIN_OWN_S if len(pieces) == 1 else MIN_OWN_IN_ROOM_S
        for piece in pieces:
            speaker = [(run_start, run_end) for run_start, run_end, is_own in piece if is_own]
            if not speaker:
                continue
            own_runs = [run_end - run_start for run_start, run_end in speaker]
            span = speaker[-1][1] - speaker[0][0]  # the room bridged at either end does not count
            # One stretch at the speaker's level (a short 好的 in its VAD padding) is the speaker;
            # several, reaching the level only here and there, are the room's loudest moments.
            dense = len(own_runs) == 1 or sum(own_runs) >= OWN_SHARE * span
            piece_start = max(start, (first + piece[0][0]) * FRAME)
            piece_end = min(end, (first + piece[-1][1]) * FRAME)
            if sum(own_runs) * FRAME >= minimum * SAMPLE_RATE and dense and piece_end > piece_start:
                kept.append((piece_start, piece_end))
    return kept


def speaker_edges(samples: np.ndarray, regions: list[tuple[int, int]], below_db: float,
                  padding: int) -> list[tuple[int, int]]:
    """Each of the speaker's `regions` (from `own_speech`) narrowed to its first and last frame
    at the speaker's level, widened again by `padding` samples (the voice detector's own) within
    the region. `own_speech` bridges the room's voices shorter than `MIN_BACKGROUND_S` into a
    region, which is right for the first decoding (a soft first or last syllable is not cut) but
    not for the timeline: under colleagues 15 dB down, a held line's silence lost 1.5 s to the
    room bridged at the edge of the agent's next words, and the hold check measured 14.9 s of a
    16.6 s silence. A second hearing of the channel decodes these narrowed regions too
    (`Transcriber._heard_again`)."""
    if not regions or len(samples) < FRAME:
        return regions
    own = _at_own_level(samples, below_db)
    narrowed = []
    for start, end in regions:
        first = start // FRAME
        loud = np.flatnonzero(own[first:min(-(-end // FRAME), len(own))])
        if not len(loud):
            narrowed.append((start, end))
            continue
        narrowed.append((max(start, (first + int(loud[0])) * FRAME - padding),
                         min(end, (first + int(loud[-1]) + 1) * FRAME + padding)))
    return narrowed


# A region's voiced frames: those within this many dB of its loudest syllables. Speech sits
# within ~15 dB of its peaks; the VAD padding, pauses and line noise are further below.
VOICED_RANGE_DB = 20.0
# Its loudest syllables: the mean level of its loudest frames, this many (200 ms): a click of a
# frame or two does not set it, and how much padding or pause the region holds does not move it.
PEAK_FRAMES = 10


def speech_level_db(samples: np.ndarray) -> float | None:
    """How loud a stretch of speech is: the level (dBFS, full scale = 1.0) of the mean power of
    its voiced 20 ms frames, so the padding and pauses inside a region do not lower it.
    None for a stretch shorter than a frame."""
    count = len(samples) // FRAME
    if count == 0:
        return None
    power = np.mean(np.square(samples[: count * FRAME].reshape(count, FRAME), dtype=np.float64), axis=1)
    level = 10 * np.log10(power + 1e-12)
    peak = float(np.mean(np.sort(level)[-PEAK_FRAMES:]))
    voiced = level >= peak - VOICED_RANGE_DB
    return round(float(10 * np.log10(np.mean(power[voiced]) + 1e-12)), 2)


def unheard(regions: list[tuple[float, float]], words: list[tuple[float, float]],
            min_s: float) -> list[tuple[float, float]]:
    """Stretches of at least `min_s` seconds inside `regions` that no word (± `HEARD_SLACK_S`)
    covers, in seconds; `regions` and `words` are (start, end) in seconds."""
    covered = sorted((start - HEARD_SLACK_S, end + HEARD_SLACK_S) for start, end in words)
    lost: list[tuple[float, float]] = []
    for start, end in _merged(regions):
        position = start
        for word_start, word_end in covered:
            if word_end <= position or word_start >= end:
                continue
            if word_start - position >= min_s:
                lost.append((round(float(position), 3), round(float(word_start), 3)))
            position = max(position, word_end)
        if end - position >= min_s:
            lost.append((round(float(position), 3), round(float(end), 3)))
    return lost


def _merged(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Regions that touch or overlap joined: VAD cuts one stretch of speech at every short pause."""
    merged: list[list[float]] = []
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1] + 0.01:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _at_own_level(samples: np.ndarray, below_db: float) -> np.ndarray:
    """Whether each 20 ms frame's envelope is within `below_db` of the channel's own speaker."""
    envelope = _envelope_db(samples)
    return envelope >= np.percentile(envelope, OWN_LEVEL_PERCENTILE) - below_db


def _envelope_db(samples: np.ndarray) -> np.ndarray:
    """Each 20 ms frame's level (dB), as the running maximum over `ENVELOPE_FRAMES` frames."""
    framed = samples[: len(samples) // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    level = 10 * np.log10(np.mean(framed ** 2, axis=1) + 1e-12)
    if len(samples) % FRAME:  # the last partial frame counts as the one before it
        level = np.append(level, level[-1])
    half = ENVELOPE_FRAMES // 2
    padded = np.pad(level, (half, half), constant_values=-120.0)
    return sliding_window_view(padded, ENVELOPE_FRAMES).max(axis=1)


def _runs(flags: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end, value) of each run of equal values."""
    if not len(flags):
        return []
    edges = np.flatnonzero(np.diff(flags.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(flags)]])
    return [(int(s), int(e), bool(flags[s])) for s, e in zip(starts, ends)]
