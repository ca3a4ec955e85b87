"""Kind `speech_rate`: the agent speaking too fast (or too slowly) to follow (语速)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotRelevant, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, measured_hit
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import Bounds, CheckSpec, SpeakerRole
from qcpipe.scoring.timeline import UtteranceRate, mean_rate, utterance_rates

Rate = Annotated[float, Bounds("threshold", 1.0, 2000.0)]


class SpeechRateSpec(CheckSpec):
    """`kind: speech_rate`: the role's characters per minute, for the call and per utterance, within bounds."""

    kind: Literal["speech_rate"]
    role: SpeakerRole = Field(description="Whose speech is timed (the agent's).")
    max_chars_per_min: Rate | None = Field(
        None, description="The call is flagged when the role's rate over all its timed utterances is above this.")
    min_chars_per_min: Rate | None = Field(
        None, description="The call is flagged when the role's rate over all its timed utterances is below this.")
    utterance_max_chars_per_min: Rate | None = Field(
        None, description="An utterance faster than this counts towards `utterances_out_of_range`.")
    utterance_min_chars_per_min: Rate | None = Field(
        None, description="An utterance slower than this counts towards `utterances_out_of_range`.")
    utterances_out_of_range: Annotated[int, Bounds("threshold", 1)] = Field(
        1, description="The call is flagged when at least this many utterances are outside the utterance bounds.")
    min_utterance_chars: Annotated[int, Bounds("threshold", 1)] = Field(
        5, description="Utterances with fewer characters are not timed (a 好的 is one or two Whisper tokens).")
    min_speech_s: Annotated[float, Bounds("threshold", 0.0)] = Field(
        5.0, description="Below this many seconds of timed speech the call is not judged (the check does not concern it).")

    @model_validator(mode="after")
    def _bounds_make_sense(self) -> SpeechRateSpec:
        if all(v is None for v in (self.max_chars_per_min, self.min_chars_per_min,
                                   self.utterance_max_chars_per_min, self.utterance_min_chars_per_min)):
            raise ValueError(f"check {self.id!r}: a speech_rate check needs at least one of max_chars_per_min, "
                             "min_chars_per_min, utterance_max_chars_per_min, utterance_min_chars_per_min")
        for low, high in (("min_chars_per_min", "max_chars_per_min"),
                          ("utterance_min_chars_per_min", "utterance_max_chars_per_min")):
            if getattr(self, low) is not None and getattr(self, high) is not None and getattr(self, low) >= getattr(self, high):
                raise ValueError(f"check {self.id!r}: {low} ({getattr(self, low):g}) must be below "
                                 f"{high} ({getattr(self, high):g})")
        return self


@register("speech_rate")
class SpeechRate(RuleKind):
    """The role's speech rate, in characters per minute of its utterances, must stay within the
    bounds: for the call (all its timed utterances together) and per utterance.

    Why: an agent racing through a script (or dragging) is hard to follow, and QA forms score 语速
    (Alibaba SCA times each sentence, e.g. > 280 chars/min; Huawei CEC divides a role's characters
    by its summed sentence time). A rate is the utterance's normalised characters over its span
    from the word timings (`timeline.utterance_rates`); utterances under `min_utterance_chars` are
    not timed, and a call with less than `min_speech_s` of timed speech is not concerned (too
    little to judge: it neither passes nor fails). One hit
    per call: the call's rate, or the utterances out of range (the fastest or slowest quoted).

    Fields: `SpeechRateSpec`.
    """

    spec = SpeechRateSpec

    def __init__(self, spec: SpeechRateSpec) -> None:
        self.role = Role(spec.role)
        self.call_bounds = (spec.min_chars_per_min, spec.max_chars_per_min)
        self.utterance_bounds = (spec.utterance_min_chars_per_min, spec.utterance_max_chars_per_min)
        self.utterances_out_of_range = spec.utterances_out_of_range
        self.min_utterance_chars = spec.min_utterance_chars
        self.min_speech_s = spec.min_speech_s

    @classmethod
    def from_spec(cls, spec: SpeechRateSpec, context: ParseContext) -> SpeechRate:
        return cls(spec)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {}

    def check(self, call: CallView) -> list[Hit]:
        rates = utterance_rates(call.segments, self.role, self.min_utterance_chars)
        seconds = sum(r.seconds for r in rates)
        if not rates or seconds < self.min_speech_s:
            raise NotRelevant(f"{seconds:.1f} s of timed {self.role} speech: too little to judge a rate")
        overall = mean_rate(rates)
        low, high = self.call_bounds
        if (high is not None and overall > high) or (low is not None and overall < low):
            worst = max(rates, key=lambda r: r.per_minute) if high is not None and overall > high \
                else min(rates, key=lambda r: r.per_minute)
            bound = f"above {high:g}" if high is not None and overall > high else f"below {low:g}"
            note = (f"{self.role} speech rate {overall:.0f} chars/min over {seconds:.0f} s of speech, {bound}; "
                    f"{_shown(worst)}")
            first, last = rates[0].segment, rates[-1].segment
            return [measured_hit(call, self.role, first.start, last.end, note, quote=worst.segment.text)]
        low, high = self.utterance_bounds
        fast = [r for r in rates if high is not None and r.per_minute > high]
        slow = [r for r in rates if low is not None and r.per_minute < low]
        if len(fast) + len(slow) < self.utterances_out_of_range:
            return []
        worst = max(fast, key=lambda r: r.per_minute) if fast else min(slow, key=lambda r: r.per_minute)
        parts = ([f"{len(fast)} above {high:g}"] if fast else []) + ([f"{len(slow)} below {low:g}"] if slow else [])
        note = (f"{' and '.join(parts)} chars/min of {len(rates)} timed {self.role} utterances "
                f"(call {overall:.0f} chars/min); {_shown(worst)}")
        return [measured_hit(call, self.role, worst.segment.start, worst.segment.end, note, quote=worst.segment.text)]


def _shown(rate: UtteranceRate) -> str:
    return f"at {rate.segment.start:.1f} s: {rate.chars} chars in {rate.seconds:.1f} s ({rate.per_minute:.0f}/min)"
