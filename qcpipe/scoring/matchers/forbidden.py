"""Kind `forbidden_phrases`: 服务禁语, words an agent must never say."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, hit_for
from qcpipe.scoring.matching import Match, PhraseMatcher
from qcpipe.scoring.spec import CheckSpec, SpeakerRole, TonedPhraseList, TonedPhraseSpec, ToneSpec, to_phrases


class ForbiddenPhrasesSpec(CheckSpec):
    """`kind: forbidden_phrases`: words the agent must never say (服务禁语)."""

    kind: Literal["forbidden_phrases"]
    role: SpeakerRole
    phrases: TonedPhraseList = Field(description="The forbidden phrases (or a phrase set name); a phrase's `veto` "
                                                 "defaults to the check's, its `exempt_when` and `clause` to the "
                                                 "check's `tone:`.")
    tone: ToneSpec | None = Field(None, description="How the clause around a hit is read: what makes it a polite "
                                                    "request or an honest answer rather than a 禁语, and the "
                                                    "phrases' defaults. Left out: every hit counts.")

    @model_validator(mode="after")
    def _exemptions_have_markers(self) -> ForbiddenPhrasesSpec:
        tone = self.tone or ToneSpec()
        own = [] if isinstance(self.phrases, str) else [item for item in self.phrases if isinstance(item, TonedPhraseSpec)]
        asked = [("tone.exempt_when", tone.exempt_when)] + [(f"phrase {item.phrase!r}", item.exempt_when)
                                                            for item in own if item.exempt_when]
        for who, exempt_when in asked:
            if missing := tone.missing_markers(exempt_when):
                raise ValueError(f"{who} asks for exempt_when {list(exempt_when)} but the check's tone: sets no "
                                 f"{', '.join(missing)}")
        return self


@register("forbidden_phrases")
class ForbiddenPhrases(RuleKind):
    """Any phrase of the list said by the role (the agent), anywhere in the call, is a hit.

    Why: the handbooks' ×不可以说 lines (这不关我的事, 我也没办法, 我是新手 …) brush the caller off or
    blame them; one is enough to fail a call, and a centre may make some a veto (一票否决).
    Each distinct phrase deducts once however often it is said; a phrase's `variants` (and
    `(a|b)` alternations) are the same phrase, so a paraphrase costs no more than the original.
    Only the role's own turns are searched: a customer saying 不关我的事 costs the agent nothing.
    A hit inside one of the phrase's `unless_within` wordings does not count.

    Tone: many 禁语 are the blunt forms of what agents are taught to say (大点声 / 请您说大点声好吗,
    我不清楚 / 我不清楚，我帮您问一下, 不行 / 不行的话我帮您换一个). The check's `tone:` says what
    makes a clause a polite request or an honest answer and where a phrase must sit in its clause;
    a hit its clause takes back does not count (see `spec.ToneRule`).

    Fields: `ForbiddenPhrasesSpec`; the rule's `veto` is the default of each phrase's.
    """

    spec = ForbiddenPhrasesSpec

    def __init__(self, role: Role, matcher: PhraseMatcher) -> None:
        self.role = role
        self.matcher = matcher

    @classmethod
    def from_spec(cls, spec: ForbiddenPhrasesSpec, context: ParseContext) -> ForbiddenPhrases:
        if isinstance(spec.phrases, str):  # a phrase set: the check's tone is every phrase's
            tone = spec.tone.rule() if spec.tone else None
            phrases = tuple(replace(p, tone=tone) for p in context.phrases(spec.phrases, default_veto=spec.veto))
        else:
            phrases = to_phrases(spec.phrases, default_veto=spec.veto, tone=spec.tone)
        return cls(Role(spec.role), context.matcher(phrases, spec.matching))

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {"forbidden": (self.role, self.matcher)}

    def check(self, call: CallView) -> list[Hit]:
        hits: dict[str, Hit] = {}
        for turn in call.turns(self.role):
            heard = call.heard(turn)
            for match in _without_overlaps(self.matcher.matches(heard)):
                if match.phrase.text not in hits:
                    hits[match.phrase.text] = hit_for(call, heard, match, self.role, veto=match.phrase.veto)
        return sorted(hits.values(), key=lambda h: h.start)


def _without_overlaps(matches: list[Match]) -> list[Match]:
    """Keep one phrase per stretch of speech: the best match (`matches` is best first).

    "这又不是我的错" also resembles "这不关我的事" (0.83 over pinyin); one utterance is one phrase.
    """
    kept: list[Match] = []
    for match in matches:
        if all(min(match.end, k.end) - max(match.start, k.start) <= (match.end - match.start) // 2 for k in kept):
            kept.append(match)
    return kept
