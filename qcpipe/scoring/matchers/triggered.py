"""Kind `triggered_response`: when the customer says X, the agent must answer with Y."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from pydantic import Field

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, NotRelevant, ParseContext, Reading, RuleKind, \
    register
from qcpipe.scoring.matchers.reader import MeaningSpec, SentenceReader
from qcpipe.scoring.matchers.view import CallView, hit_for, missing_hit, unheard_reason
from qcpipe.scoring.matching import HeardText, Match, MatchKind, PhraseMatcher
from qcpipe.scoring.spec import Bounds, CheckSpec, MatchOverrides, Phrase, PhraseList, SpeakerRole, SpecModel


class TriggerSpec(SpecModel):
    """What the check waits for: the `role` saying one of `phrases`."""

    role: SpeakerRole
    phrases: PhraseList = Field(description="The trigger phrases (or a phrase set name, e.g. complaint_triggers).")
    matching: MatchOverrides | None = Field(
        None, description="How close a trigger phrase must be heard (fields left out keep the check's `matching:`): "
                          "a trigger decides whether the check applies at all, so it may be heard more strictly "
                          "than the responses.")
    meaning: MeaningSpec | None = Field(
        None, description="Read the role's sentences with a meaning model too, where no trigger phrase is heard: "
                          "one it raises starts the check, and what the check then finds is uncertain (deducting "
                          "nothing until a monitor confirms it).")


class TriggeredResponseSpec(CheckSpec):
    """`kind: triggered_response`: when the customer says X, the agent must answer with Y."""

    kind: Literal["triggered_response"]
    role: SpeakerRole
    trigger: TriggerSpec = Field(description="What starts the check; calls without it are not affected.")
    within_s: Annotated[float, Bounds("window", 1.0)] = Field(
        120.0, description="The response counts if it starts within this many seconds after the trigger ends.")
    phrases: PhraseList = Field(description="The responses, one of which must be said (or a phrase set name).")


@register("triggered_response")
class TriggeredResponse(RuleKind):
    """After the first trigger phrase of the `trigger` role, the role must say one of `phrases`.

    Why: complaint handling is scored on what the agent does *after* the customer complains
    (003: apologise, record and verify, arrange follow-up). An apology for the queue before the
    complaint does not count, so only the role's speech starting after the trigger, within
    `within_s`, is searched. Calls without a trigger are not affected. The finding quotes the
    agent's speech searched and notes the customer's words that triggered the check. If the
    role spoke in that time and it could not be transcribed (`unheard`), the response may be
    there: not applicable, naming the span.

    Meaning (`trigger.meaning:`): customers complain in endless words no list holds (你们这效率
    我算是服了; 第三次打过来了，还是没人管). Where no trigger phrase is heard, the role's sentences
    are read by a meaning model (`scoring.meaning`); the first it raises starts the check, and a
    response then missing is an uncertain finding naming the sentence and its score: the
    customer may not have complained, so a monitor hears it before it deducts.

    Fields: `TriggeredResponseSpec`.
    """

    spec = TriggeredResponseSpec

    def __init__(self, role: Role, trigger_role: Role, trigger: PhraseMatcher, within_s: float,
                 response: PhraseMatcher, meaning: MeaningSpec | None = None) -> None:
        self.role = role
        self.trigger_role = trigger_role
        self.trigger = trigger
        self.within_s = within_s
        self.response = response
        self.reader = SentenceReader(meaning, trigger_role) if meaning else None

    @classmethod
    def from_spec(cls, spec: TriggeredResponseSpec, context: ParseContext) -> TriggeredResponse:
        trigger = context.matcher(context.phrases(spec.trigger.phrases), spec.matching, spec.trigger.matching)
        response = context.matcher(context.phrases(spec.phrases), spec.matching)
        return cls(Role(spec.role), Role(spec.trigger.role), trigger, spec.within_s, response, spec.trigger.meaning)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {"trigger": (self.trigger_role, self.trigger), "response": (self.role, self.response)}

    def check(self, call: CallView) -> list[Hit]:
        cause = self._first_trigger(call)
        if cause is None:
            raise NotRelevant(f"no {self.trigger_role} trigger phrase")
        after, until = cause.start, cause.end + self.within_s
        searched: list[int] = []
        for turn in call.turns(self.role):
            indices = [i for i in turn if after <= call.segments[i].start <= until]
            if not indices:
                continue
            searched += indices
            if self.response.matches(call.heard(indices)):
                return []
        if lost := call.unheard_in(self.role, after, until):
            raise NotApplicableError(unheard_reason(lost))
        note = f"{self.trigger_role} at {cause.start:.1f} s: “{cause.quote}” ({cause.note or cause.phrase})"
        heard = call.heard(searched) if searched else None
        hit = missing_hit(call, self.response, searched, heard, self.role, self.response.phrases[0], note)
        if cause.doubt and not hit.doubt:
            hit = replace(hit, doubt=cause.doubt)
        return [hit if searched else replace(hit, start=cause.start, end=cause.end)]  # the agent never answered

    def _first_trigger(self, call: CallView) -> Hit | None:
        reading = (self.reader.spec.model, self.reader.spec.threshold, self.reader.spec.min_chars) if self.reader else None
        key = ("trigger", id(self.trigger), self.trigger_role, reading)  # apology/record/follow-up share it
        if key not in call.memo:
            call.memo[key] = self._find_trigger(call)
        return call.memo[key]

    def _find_trigger(self, call: CallView) -> Hit | None:
        """The first trigger phrase the role says; where there is none, the first sentence the
        meaning model raises (an uncertain trigger)."""
        for turn in call.turns(self.trigger_role):
            heard = call.heard(turn)
            matches = self.trigger.matches(heard)
            if matches:
                first = min(matches, key=lambda m: m.start)
                return hit_for(call, heard, first, self.trigger_role)
        if self.reader is None:
            return None
        model = self.reader.model.name
        for turn in call.turns(self.trigger_role):
            heard = call.heard(turn)
            raised = next((r for r in self.reader.readings(heard, []) if r.raised), None)
            if raised is not None:
                match = Match(phrase=Phrase(text=f"({model})", variants=()), wording="", kind=MatchKind.MEANING,
                              score=round(raised.probability, 3), start=raised.start, end=raised.end)
                return hit_for(call, heard, match, self.trigger_role,
                               note=f"no trigger phrase; the meaning model {model} scores it {match.score:.2f}",
                               doubt=f"the {self.trigger_role}'s words were read by the meaning model {model}, "
                                     "not found in the trigger list: listen before charging")
        return None

    def readings(self, heard: HeardText) -> list[Reading]:
        if self.reader is None:
            return []
        return self.reader.readings(heard, list(self.trigger.matches(heard)))
