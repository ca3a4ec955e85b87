"""Kind `triggered_response`: when the customer says X, the agent must answer with Y."""

from __future__ import annotations

from dataclasses import replace

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotRelevant, ParseContext, RuleKind, read_role, register
from qcpipe.scoring.matchers.view import CallView, hit_for, missing_hit
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import Fields, read_phrases


@register("triggered_response")
class TriggeredResponse(RuleKind):
    """After the first trigger phrase of the `trigger` role, the role must say one of `phrases`.

    Why: complaint handling is scored on what the agent does *after* the customer complains
    (003: apologise, record and verify, arrange follow-up). An apology for the queue before the
    complaint does not count, so only the role's speech starting after the trigger, within
    `within_s`, is searched. Calls without a trigger are not affected. The finding quotes the
    agent's speech searched and notes the customer's words that triggered the check.

    YAML: role, trigger: {role, phrases (list or phrase-set name)}, within_s, phrases.
    """

    def __init__(self, role: Role, trigger_role: Role, trigger: PhraseMatcher, within_s: float,
                 response: PhraseMatcher) -> None:
        self.role = role
        self.trigger_role = trigger_role
        self.trigger = trigger
        self.within_s = within_s
        self.response = response

    @classmethod
    def from_yaml(cls, fields: Fields, context: ParseContext) -> TriggeredResponse:
        trigger_fields = Fields(fields.get("trigger"), f"{fields.what}: trigger", fields.line_of("trigger"))
        trigger_role = read_role(trigger_fields)
        trigger = context.matcher(read_phrases(trigger_fields.get("phrases"), trigger_fields, "phrases",
                                               context.phrase_sets), fields)
        trigger_fields.done()
        within_s = fields.number("within_s", 120.0, 1.0, None, "window")
        response = context.matcher(read_phrases(fields.get("phrases"), fields, "phrases", context.phrase_sets), fields)
        return cls(read_role(fields), trigger_role, trigger, within_s, response)

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
        note = f"{self.trigger_role} at {cause.start:.1f} s: “{cause.quote}” ({cause.phrase})"
        heard = call.heard(searched) if searched else None
        hit = missing_hit(call, self.response, searched, heard, self.role, self.response.phrases[0], note)
        return [hit if searched else replace(hit, start=cause.start, end=cause.end)]  # the agent never answered

    def _first_trigger(self, call: CallView) -> Hit | None:
        key = ("trigger", id(self.trigger), self.trigger_role)  # apology/record/follow-up share it
        if key not in call.memo:
            call.memo[key] = self._find_trigger(call)
        return call.memo[key]

    def _find_trigger(self, call: CallView) -> Hit | None:
        for turn in call.turns(self.trigger_role):
            heard = call.heard(turn)
            matches = self.trigger.matches(heard)
            if matches:
                first = min(matches, key=lambda m: m.start)
                return hit_for(call, heard, first, self.trigger_role)
        return None
