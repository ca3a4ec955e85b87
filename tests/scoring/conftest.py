"""Shared fixtures of the scoring tests: the default rulebook and calls built from short scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pytest
import yaml

from qcpipe.asr.types import Role, Segment, SpeechRegion, Word
from qcpipe.scoring import CallInput, Rulebook, load_rulebook, parse_rulebook

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
DEV_LABELS = REPO.parent / "shared" / "corpus" / "dev" / "labels"

Turn = Sequence  # [role, start, end, text]


def make_call(turns: Sequence[Turn], call_id: str = "T0001", queue_wait_s: float | None = 20.0,
              speech: Sequence[Sequence[float]] | None = None, mono: bool = False,
              timed_words: bool = False) -> CallInput:
    """A CallInput from [role, start, end, text] turns (agent on channel 0, customer on 1).

    speech: [channel, start, end] regions; by default each turn is its channel's region.
    timed_words: give every character its own Word, so evidence times are per character.
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
        regions = tuple(SpeechRegion(s.channel, s.role, s.start, s.end) for s in segments)
    else:
        regions = tuple(SpeechRegion(int(c), Role.AGENT if int(c) == 0 else Role.CUSTOMER, float(a), float(b))
                        for c, a, b in speech)
    return CallInput(call_id=call_id, segments=tuple(segments), speech=regions, queue_wait_s=queue_wait_s,
                     duration_s=max((s.end for s in segments), default=0.0))


def load_fixture_cases(kind: str) -> list[dict]:
    data = yaml.safe_load((FIXTURES / f"{kind}.yaml").read_text(encoding="utf-8"))
    assert data["kind"] == kind
    return data["cases"]


@pytest.fixture(scope="session")
def rulebook() -> Rulebook:
    return load_rulebook(REPO / "configs" / "rules" / "default.yaml")


@pytest.fixture
def mini_rulebook():
    """Parse a small rulebook from the `checks:` YAML given (top-level fields filled in)."""

    def build(checks_yaml: str, matching: str = "") -> Rulebook:
        text = f"version: 1\nname: test\n{matching}checks:\n{checks_yaml}"
        return parse_rulebook(text, source="mini.yaml")

    return build
