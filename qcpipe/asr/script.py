"""Script phrases heard as near-homophones, read again against the audio.

Through a narrowband codec or a noisy room Whisper base writes a center's own script with
sounds that are close but wrong: 感谢您的来电 as 展现您的来遍, 请问有什么可以帮您 as 请问有什么可疑邦高.
The scoring stage then finds the phrase missing, and the agent is charged, or a monitor must
listen, for a phrase that was said.

What was heard is a guess of the decoder's beam search, with earlier speech of the window as
context. The model can also be asked directly how well a given text fits the audio: the
probability of its tokens, teacher-forced (`ctranslate2.models.Whisper.align`). Where a stretch
of an utterance sounds like a script phrase (`near_stretches`), the utterance is scored as
heard and with the stretch replaced by the phrase; the phrase is written only where the model
finds it at least as likely as what it wrote. That is the model's own judgement on the audio,
not a guess from the text: on the dev corpus degraded by GSM and room babble, a phrase said
and misheard scored +2 to +5 nats over what was heard, and a phrase not said, whose nearest
stretch was as close in sound, scored 14 to 28 nats under it (scripts/bench_robustness.py).

Only the script an agent is to say is read again (greetings, closings, apologies, notices),
never 禁语; and only phrases of `MIN_CHARS` or more, whose sound is specific enough (a 2-3
character phrase like 您好 fits many short stretches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

MIN_CHARS = 4
# How close in sound (pinyin, 0-1) a stretch must be to a phrase to be read again as it.
# Misheard script phrases of the dev corpus are 0.67-0.89; each stretch read again costs one
# encoder pass of its utterance.
MIN_SIMILARITY = 0.6
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


@lru_cache(maxsize=8192)
def _sound(char: str) -> str:
    return lazy_pinyin(char)[0]


def _sounds(chars: str) -> str:
    return " ".join(_sound(c) for c in chars)


def near_stretches(text: str, phrases: tuple[str, ...], min_similarity: float = MIN_SIMILARITY) -> list[NearStretch]:
    """For each phrase (of `MIN_CHARS` or more) that `text` does not contain, the stretch of
    `text` of about its length (one character more or fewer) that sounds most like it, where
    that is at least `min_similarity`; best first, none overlapping."""
    positions = [i for i, c in enumerate(text) if _SPOKEN.match(c)]
    spoken = "".join(text[i] for i in positions)
    if len(spoken) < MIN_CHARS - 1:
        return []
    heard = _sounds(spoken)
    found: list[NearStretch] = []
    for phrase in phrases:
        if len(phrase) < MIN_CHARS or phrase in spoken:
            continue
        target = _sounds(phrase)
        if fuzz.partial_ratio(target, heard) < 100 * min_similarity:
            continue
        best: tuple[float, int, int] | None = None
        for size in (len(phrase) - 1, len(phrase), len(phrase) + 1):
            for first in range(0, len(spoken) - size + 1):
                score = fuzz.ratio(target, _sounds(spoken[first:first + size])) / 100
                if best is None or score > best[0]:
                    best = (score, first, first + size)
        if best and best[0] >= min_similarity:
            score, first, last = best
            found.append(NearStretch(positions[first], positions[last - 1] + 1, phrase, round(score, 3)))
    kept: list[NearStretch] = []
    for stretch in sorted(found, key=lambda s: -s.similarity):
        if all(stretch.end <= k.start or stretch.start >= k.end for k in kept):
            kept.append(stretch)
    return kept
