"""Script phrases heard as near-homophones, read again against the audio.

Through a narrowband codec or a noisy room Whisper base writes a center's own script with
sounds that are close but wrong: 感谢您的来电 as 展现您的来遍, 让您久等了 as 您就等了. Where
that is more than half a syllable off, the scoring stage finds the phrase missing, and the
agent is charged, or a monitor must listen, for a phrase that was said.

What was heard is a guess of the decoder's beam search, with earlier speech of the window as
context. The model can also be asked directly how well a given text fits the audio: the
probability of its tokens, teacher-forced (`ctranslate2.models.Whisper.align`). Where a stretch
of an utterance sounds like a script phrase (`near_stretches`), the utterance is scored as
heard and with the stretch replaced by the phrase; the phrase is written only where the model
finds it at least as likely as what it wrote. That is the model's own judgement on the audio,
not a guess from the text: on the dev corpus degraded by GSM and room babble, a phrase said
and misheard scored +2 to +6 nats over what was heard, and a phrase not said, whose nearest
stretch was close in sound, 14 to 28 nats under it.

Only the script an agent is to say is read again (greetings, closings, apologies, notices),
never 禁语; and only phrases of `MIN_CHARS` or more, whose sound is specific enough (a 2-3
character phrase like 您好 fits many short stretches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import numpy as np
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process

MIN_CHARS = 4
# How close in sound (pinyin, 0-1) a stretch must be to a phrase to be read again as it.
# Script phrases misheard through GSM or a room and read right again were 0.83-0.89 (展现您的来遍
# for 感谢您的来电 0.83, 要您就等了 for 让您久等了 0.87); the stretches of ordinary agent speech
# near a phrase by chance were mostly 0.6-0.76 (已经发火 ~ 已经记录 0.74), and scored far under
# what was heard. Each utterance with a stretch costs one encoder pass.
MIN_SIMILARITY = 0.8
# A stretch closer than this already sounds like the phrase (感谢您的来遍 0.96, 请问有什么可疑帮您
# 1.0): the scoring stage's pinyin matching takes it as said, and reading it again would cost
# an encoder pass for nothing. (Whisper base writes such stretches in most clean calls.)
MAX_SIMILARITY = 0.9
# Phrases tried at one place of an utterance: the closest in sound is not always the one said
# (您就等了 is as close to 令您久等了 as to 让您久等了); the model picks among these.
ALTERNATIVES = 3
_SPOKEN = re.compile(r"[\w]", re.UNICODE)


@dataclass(frozen=True)
class NearStretch:
    """Characters [start, end) of a text (positions in the text itself, punctuation included)
    that sound like `phrase`, `similarity` 0-1."""

    start: int
    end: int
    phrase: str
    similarity: float

    def applied_to(self, text: str) -> str:
        return text[:self.start] + self.phrase + text[self.end:]

    def overlaps(self, other: NearStretch) -> bool:
        return self.start < other.end and other.start < self.end


@lru_cache(maxsize=8192)
def _sound(char: str) -> str:
    return lazy_pinyin(char)[0]


def _sounds(chars: str) -> str:
    return " ".join(_sound(c) for c in chars)


@lru_cache(maxsize=16)
def _script_sounds(phrases: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The phrases long enough to be read again, and their sounds: a rulebook's script is the
    same for every utterance, so this is made once."""
    long_enough = tuple(phrase for phrase in phrases if len(phrase) >= MIN_CHARS)
    return long_enough, tuple(_sounds(phrase) for phrase in long_enough)


def _occurrences(text: str, phrase: str) -> list[int]:
    found, at = [], text.find(phrase)
    while at >= 0:
        found.append(at)
        at = text.find(phrase, at + 1)
    return found


def _similarities(query: str, choices: list[str] | tuple[str, ...], scorer, cutoff: float = 0) -> np.ndarray:
    """`scorer(query, choice)` for every choice (0-100; 0 under `cutoff`, which lets the scorer
    stop early), in one call that releases the GIL. On a GPU the threads preparing calls share
    one interpreter: this matching, a string at a time, held the GIL for 10 of the 60 ms a call
    held it in all (py-spy --gil, the batched path on the dev corpus)."""
    return process.cdist([query], choices, scorer=scorer, score_cutoff=cutoff, dtype=np.float64, workers=1)[0]


def _near_targets(heard: str, targets: tuple[str, ...], min_similarity: float) -> list[int]:
    """The indexes of the `targets` that some stretch of `heard` sounds like, at least
    `min_similarity`: the few phrases worth looking for closely."""
    cutoff = 100 * min_similarity
    scores = _similarities(heard, targets, fuzz.partial_ratio, cutoff)
    return [int(index) for index in np.flatnonzero(scores >= cutoff)]


@dataclass(frozen=True)
class _Spoken:
    """A text's spoken characters (punctuation left out), where each is in the text, and their
    sounds joined: a stretch's sounds are a slice of `heard`."""

    positions: list[int]
    chars: str
    heard: str
    starts: list[int]  # where each character's sound starts in `heard`

    @classmethod
    def of(cls, text: str) -> _Spoken:
        positions = [i for i, c in enumerate(text) if _SPOKEN.match(c)]
        chars = "".join(text[i] for i in positions)
        sounds = [_sound(c) for c in chars]
        return cls(positions, chars, " ".join(sounds), list(accumulate((len(s) + 1 for s in sounds), initial=0)))

    def closest(self, target: str, sizes: tuple[int, ...], blocked: list[tuple[int, int]] = ()
                ) -> tuple[float, int, int] | None:
        """(similarity, first, last) of the stretch of one of `sizes` characters (spoken
        positions) that sounds most like `target`, overlapping none of `blocked`; of equally
        close ones, the first of `sizes`, then the earliest."""
        covered = np.zeros(len(self.chars), dtype=np.int32)  # positions in a blocked stretch
        for start, end in blocked:
            covered[start:end] = 1
        covered_before = np.concatenate([[0], np.cumsum(covered)])
        stretches = [(first, first + size) for size in sizes if size <= len(self.chars)
                     for first in np.flatnonzero(covered_before[size:] == covered_before[:-size]).tolist()]
        if not stretches:
            return None
        scores = _similarities(target, [self.heard[self.starts[first]:self.starts[last] - 1]
                                         for first, last in stretches], fuzz.ratio)
        best = int(np.argmax(scores))  # the first of the highest
        return float(scores[best]) / 100, *stretches[best]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The stretch of spoken positions [first, last) as positions in the text."""
        return self.positions[first], self.positions[last - 1] + 1


def near_stretches(text: str, phrases: tuple[str, ...], min_similarity: float = MIN_SIMILARITY
                   ) -> list[list[NearStretch]]:
    """The places of `text` that sound like script phrases it does not contain, outside the
    stretches where it contains one as written or as near as `MAX_SIMILARITY`: at each, up to
    `ALTERNATIVES` phrases (of `MIN_CHARS` or more), closest first, each with the stretch of
    about its length (one character more or fewer) that sounds most like it, at least
    `min_similarity`. Places are in order of their closest phrase; their first stretches do
    not overlap."""
    text_spoken = _Spoken.of(text)
    spoken = text_spoken.chars
    if len(spoken) < MIN_CHARS - 1:
        return []
    # Where a script phrase was written as it is, nothing is read again: its siblings
    # (请问有什么可以帮你 next to the 请问有什么可以帮您 heard) sound close but were not said.
    long_enough, targets = _script_sounds(phrases)
    exact = [(at, at + len(phrase)) for phrase in long_enough if phrase in spoken
             for at in _occurrences(spoken, phrase)]
    closest: list[tuple[float, int, int, str]] = []  # each phrase's closest stretch (spoken positions)
    # The phrases that sound like some stretch of the text at all (one C call for the script).
    for index in _near_targets(text_spoken.heard, targets, min_similarity):
        phrase, target = long_enough[index], targets[index]
        if phrase in spoken:
            continue
        best = text_spoken.closest(target, (len(phrase) - 1, len(phrase), len(phrase) + 1), exact)
        if best and best[0] >= min_similarity:
            closest.append((*best, phrase))
    # A stretch that already sounds like a phrase is that phrase to the scoring stage: no
    # other phrase is tried there either.
    settled = [(first, last) for score, first, last, _ in closest if score >= MAX_SIMILARITY]
    found = [NearStretch(*text_spoken.span(first, last), phrase, round(score, 3))
             for score, first, last, phrase in closest
             if score < MAX_SIMILARITY and not any(first < end and start < last for start, end in settled)]
    places: list[list[NearStretch]] = []
    for stretch in sorted(found, key=lambda s: (-s.similarity, s.phrase)):
        place = next((p for p in places if p[0].overlaps(stretch)), None)
        if place is None:
            places.append([stretch])
        elif len(place) < ALTERNATIVES:
            place.append(stretch)
    return places


@dataclass(frozen=True)
class HeardPhrase:
    """Characters [start, end) of a text (punctuation included) that sound like `phrase` as
    closely as the scoring stage takes a phrase as said (`MAX_SIMILARITY`)."""

    start: int
    end: int
    phrase: str


@lru_cache(maxsize=16)
def _all_sounds(phrases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_sounds(phrase) for phrase in phrases)


def heard_phrases(text: str, phrases: tuple[str, ...]) -> list[HeardPhrase]:
    """Where `text` holds one of `phrases` (of any length: 再见 and 您好 too) as written or as
    near in sound as `MAX_SIMILARITY`: for each phrase, its closest stretch of its own length or
    one character longer, in order of the text. A phrase under `MIN_CHARS` must sound exactly
    alike (在见 for 再见): one letter off is already 0.93 like it (在家 zai jia)."""
    text_spoken = _Spoken.of(text)
    if not text_spoken.chars:
        return []
    targets = _all_sounds(phrases)
    found: list[HeardPhrase] = []
    for index in _near_targets(text_spoken.heard, targets, MAX_SIMILARITY):
        phrase = phrases[index]
        best = text_spoken.closest(targets[index], (len(phrase), len(phrase) + 1))
        if best and best[0] >= (MAX_SIMILARITY if len(phrase) >= MIN_CHARS else 1.0):
            found.append(HeardPhrase(*text_spoken.span(best[1], best[2]), phrase))
    return sorted(found, key=lambda h: (h.start, h.end))
