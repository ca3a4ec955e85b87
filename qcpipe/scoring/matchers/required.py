"""Kind `required_phrases`: the script lines an agent must say at a given point of the call."""

from __future__ import annotations

from dataclasses import dataclass

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, ParseContext, RuleKind, read_role, register
from qcpipe.scoring.matchers.view import CallView, missing_hit
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import Fields, Window, read_phrases, read_window


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

    YAML: role, window {from: start|end, seconds, turns?}, require: {group: [phrases]} or a list
    (one group).
    """

    def __init__(self, role: Role, window: Window, groups: tuple[_Group, ...]) -> None:
        self.role = role
        self.window = window
        self.groups = groups

    @classmethod
    def from_yaml(cls, fields: Fields, context: ParseContext) -> RequiredPhrases:
        window = read_window(fields.get("window"), fields.what, fields.line_of("window"))
        raw = fields.get("require")
        named = raw if isinstance(raw, dict) else {"required": raw}
        if not named:
            raise fields.error("require", "'require' needs at least one phrase group")
        groups = tuple(_Group(str(name), context.matcher(read_phrases(phrases, fields, "require", context.phrase_sets),
                                                           fields))
                       for name, phrases in named.items())
        return cls(read_role(fields), window, groups)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {group.name: (self.role, group.matcher) for group in self.groups}

    def check(self, call: CallView) -> list[Hit]:
        indices = call.window(self.role, self.window)
        if not indices:
            raise NotApplicableError(f"no {self.role} speech")
        heard = call.heard(indices)
        for group in self.groups:
            if not group.matcher.matches(heard):
                where = "first" if self.window.anchor == "start" else "last"
                note = f"no '{group.name}' phrase in the {where} {self.window.seconds:g} s of {self.role} speech"
                return [missing_hit(call, group.matcher, indices, heard, self.role, group.matcher.phrases[0], note)]
        return []
