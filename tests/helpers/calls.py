"""Calls as scoring takes them, from short scripts; the dev corpus's labelled calls."""

from __future__ import annotations

import json
from typing import Sequence

import yaml

from qcpipe.asr.types import Role, Segment, SpeechRegion, Word
from qcpipe.scoring import CallInput
from tests.helpers.paths import DEV_LABELS, SCORING_FIXTURES

Turn = Sequence  # [role, start, end, text]
STEADY_LEVEL_DB = -20.0  # the level of a scripted call's speech: one steady voice


def make_call(turns: Sequence[Turn], call_id: str = "T0001", queue_wait_s: float | None = 20.0,
              speech: Sequence[Sequence[float]] | None = None, mono: bool = False,
              timed_words: bool = False, duration_s: float | None = None) -> CallInput:
    """A CallInput from [role, start, end, text] turns (agent on channel 0, customer on 1).

    speech: [channel, start, end] or [channel, start, end, level_db] regions; by default each
        turn is its channel's region, all at one level (`STEADY_LEVEL_DB`).
    timed_words: give every character its own Word, so evidence times are per character.
    duration_s: the recording's length; by default the end of the last turn.
    """
    segments = []
    for role, start, end, text in turns:
        channel = 0 if role == "agent" else 1
        words: tuple[Word, ...] = ()
        if timed_words and text:
            step = (end - start) / len(text)
            words = tuple(Word(c, round(start + i * step, 3), round(start + (i + 1) * step, 3), 1.0)
                          for i, c in enumerate(text))
        segments.append(Segment(channel=0 if mono else channel, role=Role.UNKNOWN if mono else Role(role),
                                start=float(start), end=float(end), text=str(text), confidence=1.0, words=words))
    if speech is None:
        regions = tuple(SpeechRegion(s.channel, s.role, s.start, s.end, STEADY_LEVEL_DB) for s in segments)
    else:
        regions = tuple(SpeechRegion(int(c), Role.AGENT if int(c) == 0 else Role.CUSTOMER, float(a), float(b),
                                     float(level[0]) if level else None)
                        for c, a, b, *level in speech)
    if duration_s is None:
        duration_s = max((s.end for s in segments), default=0.0)
    return CallInput(call_id=call_id, segments=tuple(segments), speech=regions, queue_wait_s=queue_wait_s,
                     duration_s=duration_s)


def load_fixture_cases(kind: str) -> list[dict]:
    """The cases of one rule kind in tests/scoring/fixtures/<kind>.yaml."""
    data = yaml.safe_load((SCORING_FIXTURES / f"{kind}.yaml").read_text(encoding="utf-8"))
    assert data["kind"] == kind
    return data["cases"]


def dev_label(call_id: str) -> dict:
    """A dev corpus call's label: its turns as said and the checks it breaks."""
    return json.loads((DEV_LABELS / f"{call_id}.json").read_text(encoding="utf-8"))
