"""Kind `dead_air`: stretches of the call where nobody speaks and no hold was announced."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.silence import NOTICE_GRACE_S, announced
from qcpipe.scoring.matchers.view import CallView, measured_hit
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import Bounds, CheckSpec, PhraseList, SpeakerRole
from qcpipe.scoring.timeline import silences


class DeadAirSpec(CheckSpec):
    """`kind: dead_air`: silences on every channel of at least `min_silence_s` that no hold notice announced."""

    kind: Literal["dead_air"]
    role: SpeakerRole = Field(description="Whose hold notice excuses a silence (the agent's).")
    min_silence_s: Annotated[float, Bounds("threshold", 1.0)] = Field(
        10.0, description="Silences on all channels at least this long (seconds, VAD padding added back) count.")
    vad_padding_s: Annotated[float, Bounds("threshold", 0.0, 5.0)] = Field(
        0.0, description="How much voice-activity padding shortens a measured silence (seconds); added back.")
    notice_within_s: Annotated[float, Bounds("window", 1.0)] = Field(
        30.0, description="A hold notice said in this many seconds before the silence excuses it.")
    notices: PhraseList | None = Field(
        None, description="The hold notices (or a phrase set name) that excuse a silence; left out, none does.")


@register("dead_air")
class DeadAir(RuleKind):
    """Every mid-call stretch of `min_silence_s` or more in which neither party speaks, unless
    the role announced it with one of `notices` (请您稍等) in the `notice_within_s` before.

    Why: dead air (静音) is what a caller reads as being left alone on the line, and the
    commercial suites check it on its own (Alibaba SCA's 静音检测, AWS non-talk time, Huawei
    CEC): a center that wants to see every long pause, announced or not, leaves `notices`
    out. Silence is read from the voice-activity timelines of both channels (`SpeechRegion`),
    never from segment gaps, with the VAD padding added back (`timeline.silences`, the code the
    hold-notice check uses). Each silence is one hit whose span is the silence itself; the quote
    is what the role said last before it.

    Fields: `DeadAirSpec`.
    """

    spec = DeadAirSpec

    def __init__(self, role: Role, min_silence_s: float, vad_padding_s: float, notice_within_s: float,
                 notices: PhraseMatcher | None) -> None:
        self.role = role
        self.min_silence_s = min_silence_s
        self.vad_padding_s = vad_padding_s
        self.notice_within_s = notice_within_s
        self.notices = notices

    @classmethod
    def from_spec(cls, spec: DeadAirSpec, context: ParseContext) -> DeadAir:
        notices = context.matcher(context.phrases(spec.notices), spec.matching) if spec.notices else None
        return cls(Role(spec.role), spec.min_silence_s, spec.vad_padding_s, spec.notice_within_s, notices)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {"notices": (self.role, self.notices)} if self.notices else {}

    def check(self, call: CallView) -> list[Hit]:
        if not call.call.speech:
            raise NotApplicableError("no speech timeline (voice activity) for this call")
        hits = []
        for start, end in silences(call.call.speech, self.min_silence_s, self.vad_padding_s):
            if self.notices is not None and announced(
                    call, self.role, self.notices, start, self.notice_within_s):
                continue
            seconds = end - start + self.vad_padding_s
            # The quote: the role's last words before the silence (where a notice would have been).
            before = [s for s in call.segments if s.role is self.role and s.start < start + NOTICE_GRACE_S
                      and s.end >= start - self.notice_within_s]
            quote = before[-1].text if before else f"[{seconds:.1f} s silence]"
            note = f"{seconds:.1f} s with neither party speaking" + (", not announced" if self.notices else "")
            hits.append(measured_hit(call, self.role, start, end, note, quote=quote))
        return hits
