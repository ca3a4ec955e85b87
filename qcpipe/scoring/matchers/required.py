"""Kind `required_phrases`: the script lines an agent must say at a given point of the call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, Tag

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, missing_hit, unheard_reason
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import CheckSpec, PhraseList, SpeakerRole, Window


class RequiredPhrasesSpec(CheckSpec):
    """`kind: required_phrases`: script lines the agent must say at a point of the call (greeting, closing)."""

    kind: Literal["required_phrases"]
    role: SpeakerRole
    window: Window = Field(description="Where in the call the phrases must be said.")
    require: Annotated[
        Union[Annotated[dict[str, PhraseList], Field(min_length=1), Tag("named groups")],
              Annotated[PhraseList, Tag("one group")]],
        Discriminator(lambda value: "named groups" if isinstance(value, dict) else "one group"),
    ] = Field(description="{group: phrases}: one phrase of every group must be said (phrases within a group are "
                          "alternatives); a phrase list or phrase set name is one group.")


@dataclass(frozen=True)
class _Group:
    name: str
    matcher: PhraseMatcher


@register("required_phrases")
class RequiredPhrases(RuleKind):
    """The role must say one phrase of every `require` group inside the `window`.

    Why: scripted openings and closings (您好 + 欢迎致电…, 感谢您的来电 + 再见) are the first thing a
    QA form checks, and they are only right in their place: a greeting at the start, a closing at
    the end. Groups are separate because each part is required (a 您好 without a welcome is not
    the standard greeting); phrases within a group are alternatives (欢迎致电 / 很高兴为您服务).
    One missing group costs the rule's deduction once; the finding quotes the window searched.
    Where the window holds speech of the role that could not be transcribed (`unheard`), a
    missing phrase may be in it: the check is not applicable, naming the span.

    Fields: `RequiredPhrasesSpec`.
    """

    spec = RequiredPhrasesSpec

    def __init__(self, role: Role, window: Window, groups: tuple[_Group, ...]) -> None:
        self.role = role
        self.window = window
        self.groups = groups

    @classmethod
    def from_spec(cls, spec: RequiredPhrasesSpec, context: ParseContext) -> RequiredPhrases:
        named = spec.require if isinstance(spec.require, dict) else {"required": spec.require}
        groups = tuple(_Group(name, context.matcher(context.phrases(phrases), spec.matching))
                       for name, phrases in named.items())
        return cls(Role(spec.role), spec.window, groups)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {group.name: (self.role, group.matcher) for group in self.groups}

    def check(self, call: CallView) -> list[Hit]:
        indices = call.window(self.role, self.window)
        if not indices:
            lost = call.unheard_in(self.role, 0.0, float("inf"))
            raise NotApplicableError(unheard_reason(lost) if lost else f"no {self.role} speech")
        heard = call.heard(indices)
        for group in self.groups:
            if not group.matcher.matches(heard):
                if lost := self._unheard_in_window(call):
                    raise NotApplicableError(unheard_reason(lost))
                where = "first" if self.window.anchor == "start" else "last"
                note = f"no '{group.name}' phrase in the {where} {self.window.seconds:g} s of {self.role} speech"
                return [missing_hit(call, group.matcher, indices, heard, self.role, group.matcher.phrases[0], note)]
        return []

    def _unheard_in_window(self, call: CallView):
        """An unheard span of the role inside the window (measured from all its speech, heard or not)."""
        first, last = call.speech_bounds(self.role)
        if self.window.anchor == "start":
            return call.unheard_in(self.role, first, first + self.window.seconds)
        return call.unheard_in(self.role, last - self.window.seconds, last)
