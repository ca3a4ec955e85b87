"""Which rule phrases a sentence matches, and how: the engine behind `qcpipe rules test`.

A call center editing the rulebook wants to know, before re-scoring a month, what a new
phrase catches ("喂，这不关我的数" → 禁语 这不关我的事, pinyin 0.92) and what it must not.
"""

from __future__ import annotations

from dataclasses import dataclass

from qcpipe.asr.types import Role
from qcpipe.scoring.matching import HeardText, MatchKind
from qcpipe.scoring.rulebook import Rulebook


@dataclass(frozen=True)
class PhraseMatch:
    """One rule phrase found in the sentence.

    counts: whether the speaker given is the one the rule listens to (a customer saying a
    禁语 matches the phrase but costs the agent nothing).
    """

    rule_id: str
    kind: str
    phrase_list: str
    listens_to: Role
    counts: bool
    phrase: str
    wording: str
    match_kind: MatchKind
    score: float
    quote: str


@dataclass(frozen=True)
class NearMiss:
    """The closest a phrase list came when nothing matched."""

    rule_id: str
    phrase_list: str
    phrase: str
    score: float


@dataclass(frozen=True)
class TakenBackPhrase:
    """A rule phrase heard in the sentence that does not count, and why: inside an allowed
    wording, or taken back by its clause (请您说大点声好吗 is a request, not 大点声)."""

    rule_id: str
    phrase_list: str
    phrase: str
    wording: str
    quote: str
    why: str


@dataclass(frozen=True)
class SentenceReading:
    """One sentence as a rule's meaning model reads it (`meaning:` of forbidden_phrases, the
    trigger's `meaning:` of triggered_response).

    raised: the rule would raise it as an uncertain finding, were the speaker the one the rule
    listens to (`counts`): the probability reaches `threshold` and no listed phrase is in it.
    """

    rule_id: str
    model: str
    sentence: str
    probability: float
    threshold: float
    raised: bool
    counts: bool


# A list whose best phrase scored within this of the threshold is worth showing as a near miss:
# the wording a center may want to add as a variant. Lower scores are noise.
NEAR_MISS_MARGIN = 0.15
NEAR_MISSES_SHOWN = 5


@dataclass(frozen=True)
class Explanation:
    """What `qcpipe rules test` shows: the phrases matched, best first, the closest misses, the
    phrases heard that their clause takes back (`taken_back`), and how the rules' meaning models
    read each sentence (`readings`, in order; rules reading alike, as the three complaint checks
    do with one trigger, are shown once, under the first).

    near_misses: the phrase lists that matched nothing but came within `NEAR_MISS_MARGIN` of
    `threshold` (the lower of the rulebook's two thresholds), at most `NEAR_MISSES_SHOWN`, closest first.
    """

    text: str
    role: Role
    matches: tuple[PhraseMatch, ...]
    near_misses: tuple[NearMiss, ...]
    threshold: float
    readings: tuple[SentenceReading, ...] = ()
    taken_back: tuple[TakenBackPhrase, ...] = ()


def explain(rulebook: Rulebook, text: str, role: Role = Role.AGENT) -> Explanation:
    """Every rule phrase the sentence matches (best first), and the lists that nearly matched."""
    matches: list[PhraseMatch] = []
    misses: list[NearMiss] = []
    readings: list[SentenceReading] = []
    taken_back: list[TakenBackPhrase] = []
    sentences = HeardText.of([(0, text)], rulebook.coder)
    read: set[tuple] = set()
    for rule in rulebook.rules:
        for r in rule.matcher.readings(sentences):
            reading = SentenceReading(rule.id, r.model, sentences.chars[r.start:r.end], round(r.probability, 3),
                                      r.threshold, r.raised, r.role == role)
            alike = (reading.model, reading.sentence, reading.threshold, reading.raised, r.role)
            if alike not in read:
                read.add(alike)
                readings.append(reading)
        for name, (listens_to, matcher) in rule.matcher.phrase_lists().items():
            heard = matcher.heard([(0, text)])
            found = matcher.matches(heard)
            for match in found:
                matches.append(
                    PhraseMatch(
                        rule_id=rule.id,
                        kind=rule.kind,
                        phrase_list=name,
                        listens_to=listens_to,
                        counts=listens_to == role,
                        phrase=match.phrase.text,
                        wording=match.wording,
                        match_kind=match.kind,
                        score=round(match.score, 3),
                        quote=heard.chars[match.start : match.end],
                    )
                )
            taken_back += [TakenBackPhrase(rule.id, name, t.match.phrase.text, t.match.wording,
                                           heard.chars[t.match.start:t.match.end], t.why)
                           for t in matcher.taken_back(heard)]
            if not found and (near := matcher.near_miss(heard)) is not None:
                misses.append(NearMiss(rule.id, name, near[0], round(near[1], 3)))
    matches.sort(key=lambda m: -m.score)
    misses.sort(key=lambda m: -m.score)
    threshold = min(rulebook.matching.char_threshold, rulebook.matching.pinyin_threshold)
    close = [miss for miss in misses if miss.score >= threshold - NEAR_MISS_MARGIN][:NEAR_MISSES_SHOWN]
    return Explanation(text, role, tuple(matches), tuple(close), threshold, tuple(readings), tuple(taken_back))
