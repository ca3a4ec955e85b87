"""Kind `raised_voice`: the agent's voice jumping well above its own level in the call (能量突变)."""

from __future__ import annotations

import statistics
from typing import Annotated, Literal

from pydantic import Field

from qcpipe.asr.types import Role, SpeechRegion
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, NotRelevant, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, measured_hit
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import Bounds, CheckSpec, SpeakerRole


class RaisedVoiceSpec(CheckSpec):
    """`kind: raised_voice`: stretches of the role's speech much louder than its median in the call."""

    kind: Literal["raised_voice"]
    role: SpeakerRole = Field(description="Whose loudness is checked (the agent's).")
    above_median_db: Annotated[float, Bounds("threshold", 1.0, 60.0)] = Field(
        10.0, description="A speech region at least this many dB above the role's median region level is raised.")
    min_region_s: Annotated[float, Bounds("threshold", 0.0)] = Field(
        1.0, description="Regions shorter than this are not compared (a short burst's level says little).")
    min_regions: Annotated[int, Bounds("threshold", 2)] = Field(
        4, description="Calls with fewer of the role's regions of `min_region_s` are not concerned (no median to "
                    "compare with).")
    min_count: Annotated[int, Bounds("threshold", 1)] = Field(
        1, description="The call is flagged when at least this many regions are raised.")


@register("raised_voice")
class RaisedVoice(RuleKind):
    """A stretch of the role's speech (a voice-activity region of `min_region_s` or more holding
    its recognised words) whose level is `above_median_db` or more above the median level of
    such regions of the role in the call.

    Why: an agent raising their voice at a customer (顶撞) is a service-attitude item, and
    Alibaba SCA's energy check (能量检测) flags jumps of loudness between sentences. Loudness
    is compared with the speaker's own median in the same call, never with a fixed level:
    headsets, lines and recorders differ by more than a shout does. Each region's level
    (dBFS of its voiced frames, `SpeechRegion.level_db`) is measured by the ASR stage; a call
    transcribed before levels were stored is not applicable, and one with too few regions for a
    median (a short call) is not concerned. One hit on the loudest raised region; the note
    gives the levels.

    Fields: `RaisedVoiceSpec`.
    """

    spec = RaisedVoiceSpec

    def __init__(self, role: Role, above_median_db: float, min_region_s: float, min_regions: int,
                 min_count: int) -> None:
        self.role = role
        self.above_median_db = above_median_db
        self.min_region_s = min_region_s
        self.min_regions = min_regions
        self.min_count = min_count

    @classmethod
    def from_spec(cls, spec: RaisedVoiceSpec, context: ParseContext) -> RaisedVoice:
        return cls(Role(spec.role), spec.above_median_db, spec.min_region_s, spec.min_regions, spec.min_count)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {}

    def compared(self, call: CallView) -> list[SpeechRegion]:
        """The role's regions whose levels are compared: `min_region_s` or longer, holding its
        recognised words. A region without (the other party's voice leaking onto the channel,
        line noise) would pull the median down."""
        said = [(s.start, s.end) for s in call.segments if s.role is self.role]
        return [r for r in call.call.speech if r.role is self.role and r.end - r.start >= self.min_region_s
                and any(start < r.end and end > r.start for start, end in said)]

    def check(self, call: CallView) -> list[Hit]:
        regions = self.compared(call)
        if not call.call.speech:
            raise NotApplicableError("no speech timeline (voice activity) for this call")
        if any(r.level_db is None for r in regions):
            raise NotApplicableError("no speech levels stored for this call (transcribed before levels were "
                                     "measured): transcribe it again to check loudness")
        if len(regions) < self.min_regions:
            raise NotRelevant(f"{len(regions)} {self.role} speech region(s) of {self.min_region_s:g} s or more: "
                              f"too few for a median level")
        median = statistics.median(r.level_db for r in regions)
        raised = [r for r in regions if r.level_db - median >= self.above_median_db]
        if len(raised) < self.min_count:
            return []
        loudest = max(raised, key=lambda r: r.level_db)
        note = (f"{self.role} speech at {loudest.level_db:.1f} dBFS, {loudest.level_db - median:.1f} dB above "
                f"their median {median:.1f} dBFS in this call ({len(raised)} raised region(s))")
        return [measured_hit(call, self.role, loudest.start, loudest.end, note)]
