"""Kind `silence_hold_notice`: long silences the agent did not announce."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from pydantic import Field

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, missing_hit, unheard_reason
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import Bounds, CheckSpec, PhraseList, SpeakerRole
from qcpipe.scoring.timeline import silences

# A notice whose segment starts just after VAD's silence start still counts.
NOTICE_GRACE_S = 1.0


def notice_window(call: CallView, role: Role, silence_start: float, within_s: float) -> list[int]:
    """Indices of the role's segments where a notice of a silence starting at `silence_start`
    counts: in the `within_s` before it (or just after its start, `NOTICE_GRACE_S`)."""
    return [i for turn in call.turns(role) for i in turn
            if call.segments[i].end >= silence_start - within_s
            and call.segments[i].start <= silence_start + NOTICE_GRACE_S]


def announced(call: CallView, role: Role, matcher: PhraseMatcher, silence_start: float, within_s: float) -> bool:
    """Whether the role said one of `matcher`'s notices in the notice window of a silence."""
    indices = notice_window(call, role, silence_start, within_s)
    return bool(indices) and bool(matcher.matches(call.heard(indices)))


class SilenceHoldNoticeSpec(CheckSpec):
    """`kind: silence_hold_notice`: long silences must be announced first (请您稍等)."""

    kind: Literal["silence_hold_notice"]
    role: SpeakerRole
    min_silence_s: Annotated[float, Bounds("threshold", 1.0)] = Field(
        description="Silences on all channels at least this long (seconds, VAD padding added back) are checked.")
    vad_padding_s: Annotated[float, Bounds("threshold", 0.0, 5.0)] = Field(
        0.0, description="How much voice-activity padding shortens a measured silence (seconds); added back.")
    notice_within_s: Annotated[float, Bounds("window", 1.0)] = Field(
        30.0, description="The notice counts if said in this many seconds before the silence starts.")
    phrases: PhraseList = Field(description="The notices, one of which must be said (or a phrase set name).")


@register("silence_hold_notice")
class SilenceHoldNotice(RuleKind):
    """Every mid-call silence on all channels of `min_silence_s` or more must be announced.

    Why: dead air is what callers hang up on; the script asks the agent to say 请您稍等 before
    looking something up. Silence is read from the voice-activity timelines (`SpeechRegion`), not
    from segment gaps (ASR stretches and merges segments). VAD pads each region, which shortens
    measured gaps by about `vad_padding_s`; that is added back before comparing. The notice must
    come from the role in the `notice_within_s` before the silence starts. Each unannounced
    silence is one hit. A silence whose notice window holds speech of the role that could not be
    transcribed (`unheard`) may have been announced: it is not charged, and if no other silence
    is, the check is not applicable, naming the span.

    Fields: `SilenceHoldNoticeSpec`.
    """

    spec = SilenceHoldNoticeSpec

    def __init__(self, role: Role, min_silence_s: float, vad_padding_s: float, notice_within_s: float,
                 matcher: PhraseMatcher) -> None:
        self.role = role
        self.min_silence_s = min_silence_s
        self.vad_padding_s = vad_padding_s
        self.notice_within_s = notice_within_s
        self.matcher = matcher

    @classmethod
    def from_spec(cls, spec: SilenceHoldNoticeSpec, context: ParseContext) -> SilenceHoldNotice:
        return cls(
            role=Role(spec.role),
            min_silence_s=spec.min_silence_s,
            vad_padding_s=spec.vad_padding_s,
            notice_within_s=spec.notice_within_s,
            matcher=context.matcher(context.phrases(spec.phrases), spec.matching),
        )

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {"notice": (self.role, self.matcher)}

    def silences(self, call: CallView) -> list[tuple[float, float]]:
        """(start, end) of each gap between speech on any channel long enough to check."""
        return silences(call.call.speech, self.min_silence_s, self.vad_padding_s)

    def check(self, call: CallView) -> list[Hit]:
        if not call.call.speech:
            raise NotApplicableError("no speech timeline (voice activity) for this call")
        hits = []
        doubtful = []
        for start, end in self.silences(call):
            if announced(call, self.role, self.matcher, start, self.notice_within_s):
                continue
            if lost := call.unheard_in(self.role, start - self.notice_within_s, start + NOTICE_GRACE_S):
                doubtful.append(lost)
                continue
            indices = notice_window(call, self.role, start, self.notice_within_s)
            heard = call.heard(indices) if indices else None
            hit = missing_hit(call, self.matcher, indices, heard, self.role, self.matcher.phrases[0],
                              f"{end - start + self.vad_padding_s:.1f} s silence on all channels, not announced")
            hits.append(replace(hit, start=start, end=end))  # the silence itself, not the words before
        if doubtful and not hits:
            raise NotApplicableError(unheard_reason(doubtful[0]))
        return hits
