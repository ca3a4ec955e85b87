"""Kind `interruption`: the agent talking over the customer (抢话)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, measured_hit
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.normalize import normalize
from qcpipe.scoring.spec import Bounds, CheckSpec, PhraseList, SpeakerRole
from qcpipe.scoring.timeline import Overlap, chars_between, overlaps


class InterruptionSpec(CheckSpec):
    """`kind: interruption`: the role starting to speak while the other party is speaking, often enough."""

    kind: Literal["interruption"]
    role: SpeakerRole = Field(description="Who must not cut in (the agent).")
    min_overlap_s: Annotated[float, Bounds("threshold", 0.1)] = Field(
        2.0, description="Both voices on for at least this long (seconds, VAD padding taken out) is an overlap.")
    min_chars: Annotated[int, Bounds("threshold", 1)] = Field(
        4, description="At least this many characters of the role's words inside the overlap (backchannels "
                       "left out): 嗯, 对, 好的 said while the customer talks is listening, not cutting in.")
    min_count: Annotated[int, Bounds("threshold", 1)] = Field(
        2, description="The call is flagged when the role cuts in at least this many times.")
    vad_padding_s: Annotated[float, Bounds("threshold", 0.0, 5.0)] = Field(
        0.0, description="How much voice-activity padding lengthens a measured overlap (seconds); taken out.")
    backchannels: PhraseList | None = Field(
        None, description="Listening noises (or a phrase set name) whose characters do not count towards `min_chars`.")


@register("interruption")
class Interruption(RuleKind):
    """The role starts speaking while the other party is speaking, both voices stay on for
    `min_overlap_s` or more, and the role says at least `min_chars` characters (not counting
    `backchannels`) inside the overlap; the call is flagged when this happens `min_count` times.

    Why: 抢话 (cutting the customer off) is a service-attitude item on every QA form, and the
    suites measure it the same way (Alibaba SCA: overlap 2–3 s and ≥ 4 characters; AWS Call
    Analytics: interruptions by role). It is read from each channel's own voice activity, which
    a stereo recording gives per party (on a mono recording overlap cannot be told, Alibaba
    warns); the VAD padding is taken out (`timeline.overlaps`). Who came in is whoever's voice
    started while the other's was on: the customer cutting in costs the agent nothing. Words
    said in the overlap come from the word timings, so a 嗯/对/好的 while listening is not an
    interruption. One hit at the first interruption; the note lists them all.

    Fields: `InterruptionSpec`.
    """

    spec = InterruptionSpec

    def __init__(self, role: Role, min_overlap_s: float, min_chars: int, min_count: int, vad_padding_s: float,
                 backchannels: PhraseMatcher | None) -> None:
        self.role = role
        self.min_overlap_s = min_overlap_s
        self.min_chars = min_chars
        self.min_count = min_count
        self.vad_padding_s = vad_padding_s
        self.backchannels = backchannels
        wordings = {normalize(w).chars for p in (backchannels.phrases if backchannels else ()) for w in p.variants}
        self._listening = sorted((w for w in wordings if w), key=len, reverse=True)  # longest first: 好的好的 before 好的

    @classmethod
    def from_spec(cls, spec: InterruptionSpec, context: ParseContext) -> Interruption:
        backchannels = context.matcher(context.phrases(spec.backchannels), spec.matching) if spec.backchannels else None
        return cls(Role(spec.role), spec.min_overlap_s, spec.min_chars, spec.min_count, spec.vad_padding_s,
                   backchannels)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {}  # backchannels only discount characters: no sentence is found or missed by them

    def said_over(self, call: CallView, overlap: Overlap) -> str:
        """The role's characters inside the overlap, backchannels taken out."""
        said = chars_between([s for s in call.segments if s.role is self.role], overlap.start, overlap.end)
        for wording in self._listening:
            said = said.replace(wording, "")
        return said

    def check(self, call: CallView) -> list[Hit]:
        if not call.call.speech:
            raise NotApplicableError("no speech timeline (voice activity) for this call")
        found = [(o, said) for o in overlaps(call.call.speech, self.vad_padding_s)
                 if o.starter is self.role and o.seconds >= self.min_overlap_s
                 and len(said := self.said_over(call, o)) >= self.min_chars]
        if len(found) < self.min_count:
            return []
        listed = "; ".join(f"{o.start:.1f} s for {o.seconds:.1f} s" for o, _ in found)
        first, _ = found[0]
        note = f"{self.role} spoke over the other party {len(found)} times (flagged from {self.min_count}): {listed}"
        return [measured_hit(call, self.role, first.start, first.end, note)]
