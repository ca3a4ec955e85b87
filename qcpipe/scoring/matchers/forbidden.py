"""Kind `forbidden_phrases`: 服务禁语, words an agent must never say."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, hit_for
from qcpipe.scoring.matching import Match, PhraseMatcher
from qcpipe.scoring.spec import CheckSpec, PhraseList, SpeakerRole


class ForbiddenPhrasesSpec(CheckSpec):
    """`kind: forbidden_phrases`: words the agent must never say (服务禁语)."""

    kind: Literal["forbidden_phrases"]
    role: SpeakerRole
    phrases: PhraseList = Field(description="The forbidden phrases (or a phrase set name); a phrase's `veto` "
                                            "defaults to the check's.")


@register("forbidden_phrases")
class ForbiddenPhrases(RuleKind):
    """Any phrase of the list said by the role (the agent), anywhere in the call, is a hit.

    Why: the handbooks' ×不可以说 lines (这不关我的事, 我也没办法, 我是新手 …) brush the caller off or
    blame them; one is enough to fail a call, and a centre may make some a veto (一票否决).
    Each distinct phrase deducts once however often it is said; a phrase's `variants` (and
    `(a|b)` alternations) are the same phrase, so a paraphrase costs no more than the original.
    Only the role's own turns are searched: a customer saying 不关我的事 costs the agent nothing.
    A hit inside one of the phrase's `unless_within` wordings does not count.

    Fields: `ForbiddenPhrasesSpec`; the rule's `veto` is the default of each phrase's.
    """

    spec = ForbiddenPhrasesSpec

    def __init__(self, role: Role, matcher: PhraseMatcher) -> None:
        self.role = role
        self.matcher = matcher

    @classmethod
    def from_spec(cls, spec: ForbiddenPhrasesSpec, context: ParseContext) -> ForbiddenPhrases:
        phrases = context.phrases(spec.phrases, default_veto=spec.veto)
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
