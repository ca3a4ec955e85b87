"""What a call's timing shows: silences, overlapping speech, speech rate, and the call's figures.

The rule kinds that read the audio's timing (silence_hold_notice, dead_air, interruption,
speech_rate) and the call statistics shown with every call (`CallStats`) measure with these
functions, so a silence or an overlap is the same thing in a finding and on the call page.

Two sources of timing, each used for what it is good at:
- the voice-activity timeline (`SpeechRegion`, one per stretch of speech on a channel) says when
  a party's voice is on, whether or not a word was recognised. Voice activity detection pads
  each region on both sides (`AsrOptions.vad_pad_ms`, 400 ms) so that word onsets are not
  clipped: a measured silence is `vad_padding_s` (both pads) shorter than it was, a measured
  overlap that much longer. The functions take the padding and take it back out.
- word timings (`Segment.words`) say which characters were said when, for rates and for what
  was said inside an overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from qcpipe.asr.types import Role, Segment, SpeechRegion
from qcpipe.scoring.matching import normalize_cached

# Regions of one party this close are one stretch of speech: VAD cuts at every 160 ms pause,
# and the pads of two regions meet when the pause between them is shorter than both pads.
JOIN_S = 0.05
# Two voices starting within this of each other started together: neither came in on the other.
# A party's voice leaking onto the other's channel (echo the crosstalk removal left) starts
# with it, and must not read as the other party cutting in.
SAME_START_S = 0.3


def merged(spans: Iterable[tuple[float, float]], join_s: float = JOIN_S) -> list[tuple[float, float]]:
    """Spans that overlap or lie within `join_s` of each other joined, in time order."""
    result: list[list[float]] = []
    for start, end in sorted(spans):
        if result and start <= result[-1][1] + join_s:
            result[-1][1] = max(result[-1][1], end)
        else:
            result.append([start, end])
    return [(start, end) for start, end in result]


def silences(speech: Sequence[SpeechRegion], min_s: float, vad_padding_s: float) -> list[tuple[float, float]]:
    """(start, end) of each mid-call gap in speech on every channel that lasted at least `min_s`.

    A gap's length is measured between the regions as stored plus `vad_padding_s` (the padding
    that shortened it); the span returned is the gap as stored (where the timeline is silent).
    Silence before the first speech and after the last is not mid-call and is not returned.
    """
    gaps: list[tuple[float, float]] = []
    regions = sorted((r.start, r.end) for r in speech)
    if not regions:
        return gaps
    speech_end = regions[0][1]
    for start, end in regions[1:]:
        if start - speech_end + vad_padding_s >= min_s:
            gaps.append((speech_end, start))
        speech_end = max(speech_end, end)
    return gaps


def talk_spans(speech: Sequence[SpeechRegion], role: Role, vad_padding_s: float) -> list[tuple[float, float]]:
    """When the role's voice was on: its regions joined, each stretch less the padding at both
    ends (half of `vad_padding_s` each), in time order."""
    pad = vad_padding_s / 2
    spans = merged((r.start, r.end) for r in speech if r.role is role)
    return [(start + pad, end - pad) for start, end in spans if end - start > 2 * pad]


@dataclass(frozen=True)
class Overlap:
    """Both parties speaking at once, from `start` to `end` (padding taken out).

    starter: the party who started speaking while the other was already speaking (the one who
    came in); None when both started within `SAME_START_S` of each other.
    """

    start: float
    end: float
    starter: Role | None

    @property
    def seconds(self) -> float:
        return self.end - self.start


def overlaps(speech: Sequence[SpeechRegion], vad_padding_s: float) -> list[Overlap]:
    """Every stretch where the agent's and the customer's voices are both on, in time order."""
    agent = talk_spans(speech, Role.AGENT, vad_padding_s)
    customer = talk_spans(speech, Role.CUSTOMER, vad_padding_s)
    found: list[Overlap] = []
    j = 0
    for a_start, a_end in agent:
        while j < len(customer) and customer[j][1] <= a_start:
            j += 1
        k = j
        while k < len(customer) and customer[k][0] < a_end:
            c_start, c_end = customer[k]
            start, end = max(a_start, c_start), min(a_end, c_end)
            if end > start:
                starter = None if abs(a_start - c_start) < SAME_START_S else \
                    Role.AGENT if a_start > c_start else Role.CUSTOMER
                found.append(Overlap(start, end, starter))
            k += 1
    return sorted(found, key=lambda o: o.start)


def chars_between(segments: Sequence[Segment], start: float, end: float) -> str:
    """The normalised characters of `segments` said between `start` and `end` (a character
    counts when the middle of its time is inside; times from the word timings)."""
    out: list[str] = []
    for segment in segments:
        if segment.end <= start or segment.start >= end:
            continue
        text = normalize_cached(segment.text)
        times = segment.char_times()
        for char, source in zip(text.chars, text.source):
            first, last = times[source]
            if start <= (first + last) / 2 <= end:
                out.append(char)
    return "".join(out)


@dataclass(frozen=True)
class UtteranceRate:
    """One utterance's speech rate: its characters (normalised) per minute of its span."""

    segment: Segment
    chars: int

    @property
    def seconds(self) -> float:
        return max(self.segment.end - self.segment.start, 0.0)

    @property
    def per_minute(self) -> float:
        return self.chars / self.seconds * 60 if self.seconds > 0 else 0.0


def utterance_rates(segments: Sequence[Segment], role: Role, min_chars: int) -> list[UtteranceRate]:
    """The rate of each of the role's utterances of at least `min_chars` characters.

    Shorter ones are left out: a 好的 or 嗯 is timed by one or two Whisper tokens, and its rate
    says more about the token's timing than about the speaker.
    """
    rates = [UtteranceRate(s, len(normalize_cached(s.text).chars)) for s in segments if s.role is role]
    return [r for r in rates if r.chars >= min_chars and r.seconds > 0]


def mean_rate(rates: Sequence[UtteranceRate]) -> float | None:
    """Characters per minute over all of `rates`' speech (None without any): a role's rate for
    the call, the way Huawei CEC defines it (its characters ÷ its summed sentence time)."""
    seconds = sum(r.seconds for r in rates)
    return sum(r.chars for r in rates) / seconds * 60 if seconds > 0 else None


# Utterances shorter than this do not count towards a rate (see `utterance_rates`).
RATE_MIN_CHARS = 5


@dataclass(frozen=True)
class CallStats:
    """A call's figures as a QA lead reads them (seconds; None where the call cannot say).

    agent_talk_s / customer_talk_s: how long each party's voice was on (None: mono, roles unknown).
    silence_s / longest_silence_s: time between the first and the last speech when nobody spoke,
        all of it and the longest stretch.
    overlaps / overlap_s: how often and how long both parties spoke at once (None: mono).
    agent_chars_per_min: the agent's speech rate over their utterances of `RATE_MIN_CHARS`
        characters or more (None: no such utterance, or mono).
    """

    agent_talk_s: float | None
    customer_talk_s: float | None
    silence_s: float
    longest_silence_s: float
    overlaps: int | None
    overlap_s: float | None
    agent_chars_per_min: float | None

    @classmethod
    def of(cls, segments: Sequence[Segment], speech: Sequence[SpeechRegion], vad_padding_s: float) -> CallStats:
        """The figures of one call from its utterances and voice-activity timeline; `vad_padding_s`:
        how much the timeline's padding shortens a silence (both pads, `AsrOptions.vad_pad_ms` × 2)."""
        # Only where the timeline itself is silent: where two regions' pads meet, the pause was
        # shorter than the pads, and how much shorter the timeline cannot say.
        gaps = [end - start + vad_padding_s for start, end in silences(speech, vad_padding_s + JOIN_S, vad_padding_s)]
        stereo = any(r.role is not Role.UNKNOWN for r in speech) or any(s.role is not Role.UNKNOWN for s in segments)
        if not stereo:
            return cls(None, None, _round(sum(gaps)), _round(max(gaps, default=0.0)), None, None, None)
        both = overlaps(speech, vad_padding_s)
        rate = mean_rate(utterance_rates(segments, Role.AGENT, RATE_MIN_CHARS))
        return cls(
            agent_talk_s=_round(_talk(speech, Role.AGENT, vad_padding_s)),
            customer_talk_s=_round(_talk(speech, Role.CUSTOMER, vad_padding_s)),
            silence_s=_round(sum(gaps)),
            longest_silence_s=_round(max(gaps, default=0.0)),
            overlaps=len(both),
            overlap_s=_round(sum(o.seconds for o in both)),
            agent_chars_per_min=None if rate is None else round(rate, 1),
        )


def _talk(speech: Sequence[SpeechRegion], role: Role, vad_padding_s: float) -> float:
    return sum(end - start for start, end in talk_spans(speech, role, vad_padding_s))


def _round(seconds: float) -> float:
    return round(seconds, 2)
