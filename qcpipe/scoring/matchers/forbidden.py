"""Kind `forbidden_phrases`: 服务禁语, words an agent must never say."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, ParseContext, Reading, RuleKind, register
from qcpipe.scoring.matchers.reader import MeaningSpec, SentenceReader
from qcpipe.scoring.matchers.view import CallView, hit_for
from qcpipe.scoring.matching import HeardText, Match, MatchKind, PhraseMatcher
from qcpipe.scoring.spec import CheckSpec, Phrase, SpeakerRole, TonedPhraseList, TonedPhraseSpec, ToneSpec, \
    to_phrases

# What a finding raised by the meaning model names as its phrase: no listed wording was said.
MEANING_PHRASE = Phrase(text="疑似禁语 (meaning)", variants=())


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
    meaning: MeaningSpec | None = Field(None, description="Read the agent's other sentences with a meaning model "
                                                          "too: one it scores as a 禁语 is raised as an uncertain "
                                                          "finding (deducting nothing until a monitor confirms it).")

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
    A phrase found only in words heard with low probabilities (`evidence: said_word_probability`)
    is uncertain: a room's voices behind a silent agent are heard so on the agent's channel.
    Only the role's own turns are searched: a customer saying 不关我的事 costs the agent nothing.
    A hit inside one of the phrase's `unless_within` wordings does not count.

    Tone: many 禁语 are the blunt forms of what agents are taught to say (大点声 / 请您说大点声好吗,
    我不清楚 / 我不清楚，我帮您问一下, 不行 / 不行的话我帮您换一个). The check's `tone:` says what
    makes a clause a polite request or an honest answer and where a phrase must sit in its clause;
    a hit its clause takes back does not count (see `spec.ToneRule`).

    Meaning (`meaning:`): agents say the same 禁语 in endless other words (这事归售后管，你打他们
    电话吧). The sentences the list found nothing in are read by a meaning model
    (`scoring.meaning`); one it scores at or above the threshold becomes an uncertain finding,
    quoted in full with its score: it deducts nothing until a monitor has heard it and confirmed.
    Each distinct sentence is one finding; a confirmed one deducts as a listed phrase does.

    Fields: `ForbiddenPhrasesSpec`; the rule's `veto` is the default of each phrase's.
    """

    spec = ForbiddenPhrasesSpec
    script = False  # never read a stretch again as a 禁语

    def __init__(self, role: Role, matcher: PhraseMatcher, meaning: MeaningSpec | None = None) -> None:
        self.role = role
        self.matcher = matcher
        self.reader = SentenceReader(meaning, role) if meaning else None  # None: the list alone

    @classmethod
    def from_spec(cls, spec: ForbiddenPhrasesSpec, context: ParseContext) -> ForbiddenPhrases:
        if isinstance(spec.phrases, str):  # a phrase set: the check's tone is every phrase's
            tone = spec.tone.rule() if spec.tone else None
            phrases = tuple(replace(p, tone=tone) for p in context.phrases(spec.phrases, default_veto=spec.veto))
        else:
            phrases = to_phrases(spec.phrases, default_veto=spec.veto, tone=spec.tone)
        return cls(Role(spec.role), context.matcher(phrases, spec.matching), spec.meaning)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        return {"forbidden": (self.role, self.matcher)}

    def check(self, call: CallView) -> list[Hit]:
        hits: dict[str, Hit] = {}
        read: dict[str, Hit] = {}  # the meaning model's, by sentence
        model = self.reader.model.name if self.reader else ""
        for turn in call.turns(self.role):
            heard = call.heard(turn)
            matches = _without_overlaps(self.matcher.matches(heard))
            for match in matches:
                found = hits.get(match.phrase.text)
                if found is None or found.doubt:  # a phrase clearly heard outweighs one poorly heard
                    hit = hit_for(call, heard, match, self.role, veto=match.phrase.veto,
                                  doubt=call.said_doubt(heard, match))
                    if found is None or not hit.doubt:
                        hits[match.phrase.text] = hit
            for reading in self.readings(heard, matches):
                sentence = heard.chars[reading.start:reading.end]
                if reading.raised and sentence not in read:
                    match = Match(phrase=MEANING_PHRASE, wording="", kind=MatchKind.MEANING,
                                  score=round(reading.probability, 3), start=reading.start, end=reading.end)
                    read[sentence] = hit_for(
                        call, heard, match, self.role, veto=False,
                        note=f"the meaning model {model} reads the sentence as a 禁语 "
                             f"({match.score:.2f}); no listed phrase is in it",
                        doubt="raised by the meaning model, not by a listed phrase: listen before charging")
        return sorted([*hits.values(), *read.values()], key=lambda h: h.start)

    def readings(self, heard: HeardText, listed: list[Match] | None = None) -> list[Reading]:
        """The meaning model's reading of each sentence of `heard` long enough to judge; one
        holding a listed 禁语 (`listed`: the matches in `heard`, found when not given) is never raised."""
        if self.reader is None:
            return []
        if listed is None:
            listed = _without_overlaps(self.matcher.matches(heard))
        return self.reader.readings(heard, listed)


def _without_overlaps(matches: list[Match]) -> list[Match]:
    """Keep one phrase per stretch of speech: the best match (`matches` is best first).

    "这又不是我的错" also resembles "这不关我的事" (0.83 over pinyin); one utterance is one phrase.
    """
    kept: list[Match] = []
    for match in matches:
        if all(min(match.end, k.end) - max(match.start, k.start) <= (match.end - match.start) // 2 for k in kept):
            kept.append(match)
    return kept
