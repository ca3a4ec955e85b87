"""Finding rulebook phrases in heard text: exact, then fuzzy over characters and over pinyin.

`PhraseMatcher` is built once per rule (phrase wordings normalised and pinyin-coded up front)
and asked, per stretch of speech (`HeardText`), which phrases were said, how closely and where.

Speed matters (a month of calls is scored in one go), so the work is staged:
1. an index of folded-pinyin syllable pairs picks the candidate wordings: a wording close
   enough to count keeps a known number of its syllable pairs intact (see `_anchors`), so
   wordings sharing fewer pairs with the text cannot match and are skipped;
2. candidates are tried exactly (str.find), then scored with rapidfuzz over pinyin codes; the
   pinyin similarity bounds the character similarity from above (a matching character is two
   matching codes), so a candidate under both thresholds there needs no more work;
3. survivors get alignments (the character span) and a character score.
Results are memoised per text: scripted lines ("还有其他可以帮您的吗") recur in every call.

A wording with a gap, "你…都不会" (spec.GAP), is its parts in order within one clause, at most
`GAP_CHARS` characters apart, each heard exactly or as a homophone: the frame of a 禁语 whose middle
varies (你连这个都不会, 你这么简单的操作都不会) without listing every middle.

A phrase with a `tone` (spec.ToneRule) is judged by the clause around each hit: a polite
request (请您说大点声好吗), an offer of help (我不清楚，我帮您问一下) or a word inside a longer
clause (不行的话…) takes the hit back. Clauses end at punctuation, spaces and segment ends.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property, lru_cache
from itertools import chain
from typing import NamedTuple, Sequence

from rapidfuzz import fuzz

from qcpipe.scoring.normalize import NormalizedText, PinyinCoder, normalize
from qcpipe.scoring.spec import GAP, MatchSettings, Phrase, ToneRule

_NEVER_FUZZY = 1_000_000  # min_fuzzy_chars that makes every wording exact-or-homophone only
_PAD = "\x00"  # never part of a phrase: pads text shorter than a phrase so windows stay phrase-long
# The most characters a gap may hold: a clause's middle (你 [连这么简单的操作] 都不会), not a
# second sentence run on without punctuation.
GAP_CHARS = 10
_HOMOPHONE_PART = 3  # gapped wordings' parts this long or longer may be heard as homophones


class MatchKind(StrEnum):
    """How a phrase was found: exact text, close characters, close pinyin, or not at all; or,
    for a check of the audio's timing or loudness (silence, overlap, rate), measured; or, for a
    sentence no listed phrase is in, read by a meaning model."""

    EXACT = "exact"
    CHAR = "char"
    PINYIN = "pinyin"
    ABSENT = "absent"
    MEASURED = "measured"
    MEANING = "meaning"  # no listed phrase: a meaning model read the sentence as one (scoring.meaning)


normalize_cached = lru_cache(maxsize=100_000)(normalize)

# Where a clause ends in a transcript: punctuation (Whisper writes ，。？！), and spaces, which
# Whisper and chat transcripts put between phrases. 、 lists words inside one clause.
_CLAUSE_BREAK = re.compile(r"[\s，。！？；：,.!?;:…~～]+")


@dataclass(frozen=True)
class HeardText:
    """A stretch of speech as rules search it: one or more segments' text run together.

    parts: (index of the segment in the call, its normalised text) in order; a phrase split by
        ASR across two segments of one turn ("感谢您的来电，" | "再见") is still found.
    chars / codes: the normalised characters and their pinyin codes.
    texts: the segments' text as transcribed, punctuation and all (where clauses end).
    """

    parts: tuple[tuple[int, NormalizedText], ...]
    chars: str
    codes: str
    texts: tuple[str, ...] = ()

    @classmethod
    def of(cls, texts: Sequence[tuple[int, str]], coder: PinyinCoder) -> HeardText:
        parts = tuple((index, normalize_cached(text)) for index, text in texts)
        chars = "".join(part.chars for _, part in parts)
        return cls(parts=parts, chars=chars, codes=coder.encode(chars), texts=tuple([text for _, text in texts]))

    @cached_property
    def clause_starts(self) -> tuple[int, ...]:
        """Where in `chars` each clause starts, in order, from 0: after punctuation or a space
        in a segment's text, and at each segment's start. Worked out only when a phrase judged
        by its tone is heard (most texts never need it)."""
        starts: list[int] = []
        offset = 0
        for text, (_, part) in zip(self.texts, self.parts):
            if part.chars:
                starts.append(offset)
                # a break between two kept characters starts a clause at the next one
                starts += [offset + at for at in (bisect_right(part.source, b.start()) for b in
                                                  _CLAUSE_BREAK.finditer(text)) if 0 < at < len(part.chars)]
                offset += len(part.chars)
        return tuple(sorted(set(starts))) or (0,)

    def clause(self, start: int, end: int, more: int = 0) -> tuple[int, int]:
        """The span of the clause(s) holding chars [start, end), and `more` clauses after them."""
        starts = self.clause_starts
        first = bisect_right(starts, start) - 1
        last = bisect_right(starts, max(start, end - 1)) - 1 + more
        return starts[max(first, 0)], starts[last + 1] if last + 1 < len(starts) else len(self.chars)

    def locate(self, position: int) -> tuple[int, int]:
        """(segment index, index in that segment's original text) of normalised char `position`."""
        for index, part in self.parts:
            if position < len(part.chars):
                return index, part.source[position]
            position -= len(part.chars)
        raise IndexError(position)


class NearMissAt(NamedTuple):
    """The phrase closest to being said in a text, and where: `start`/`end` index the text's
    normalised characters. `approximate`: the phrase is long enough to match approximately
    (`min_fuzzy_chars`); a shorter one only matches exactly, so its near miss says little."""

    phrase: str
    score: float
    start: int
    end: int
    approximate: bool


@dataclass(frozen=True)
class Match:
    """One phrase found in a HeardText: which wording, how, how well, and the character span."""

    phrase: Phrase
    wording: str
    kind: MatchKind
    score: float
    start: int
    end: int  # exclusive, in HeardText.chars


class TakenBack(NamedTuple):
    """A phrase heard that does not count, and why (`PhraseMatcher.taken_back`)."""

    match: Match
    why: str


@dataclass(frozen=True)
class _GappedWording:
    """A wording with gaps: its parts' characters and pinyin codes, in order."""

    phrase_index: int
    text: str
    chars: tuple[str, ...]
    codes: tuple[str, ...]


@dataclass(frozen=True)
class _Wording:
    phrase_index: int
    text: str
    chars: str
    codes: str
    fuzzy: bool  # long enough to match approximately
    keys: tuple[frozenset[str], ...]  # per key character: the syllable codes that may stand for it


class PhraseMatcher:
    """The compiled phrases of one rule: which of them a stretch of speech contains."""

    _MAX_MEMO = 50_000

    def __init__(self, phrases: Sequence[Phrase], settings: MatchSettings, coder: PinyinCoder) -> None:
        self.phrases = tuple(phrases)
        self.settings = settings
        self._coder = coder
        wordings: dict[str, _Wording] = {}
        gapped: dict[tuple[str, ...], _GappedWording] = {}
        for index, phrase in enumerate(self.phrases):
            for wording in phrase.variants:
                if GAP in wording:
                    parts = tuple(normalize(part).chars for part in wording.split(GAP))
                    if all(parts) and parts not in gapped:
                        gapped[parts] = _GappedWording(index, wording, parts, tuple(map(coder.encode, parts)))
                    continue
                chars = normalize(wording).chars
                if chars and chars not in wordings:
                    wordings[chars] = _Wording(index, wording, chars, coder.encode(chars),
                                               len(chars) >= settings.min_fuzzy_chars, self._keys(chars))
        self._wordings = list(wordings.values())
        self._gapped = list(gapped.values())
        self._longest = max((len(w.chars) for w in self._wordings), default=0)
        self._cutoff = 100 * min(settings.char_threshold, settings.pinyin_threshold)
        self._index: dict[str, list[int]] = {}
        self._needed: list[int] = []
        # The same bound over single syllables: a close-enough occurrence keeps all but the
        # wrong characters' syllables (counted once each: a repeated one may be the wrong one).
        # A second, cheap sieve for the short wordings that need one syllable pair only.
        self._syllables: list[tuple[frozenset[str], int]] = []
        for number, wording in enumerate(self._wordings):
            size, needed = self._anchors(wording)
            self._needed.append(needed)
            syllables = [wording.codes[j:j + 2] for j in range(0, len(wording.codes), 2)]
            distinct = frozenset(syllables)
            self._syllables.append((distinct, len(distinct) - self._wrong(wording)))
            grams = dict.fromkeys(wording.codes[j:j + 2 * size] for j in range(0, len(wording.codes) - 2 * size + 1, 2))
            for key in grams:
                self._index.setdefault(key, []).append(number)
        self._anchor_sizes = sorted({len(key) for key in self._index})
        # An allowed wording cancels a hit only if it is really there (exactly or as homophones):
        # fuzzily, 我是新手啦 would pass for the allowed 我是新手机 and hide the 禁语.
        exact_only = replace(settings, min_fuzzy_chars=_NEVER_FUZZY)
        self._exclusions = {
            index: PhraseMatcher([Phrase(text=w, variants=(w,)) for w in phrase.unless_within], exact_only, coder)
            for index, phrase in enumerate(self.phrases) if phrase.unless_within
        }
        self._tones = {index: _Tone(phrase.tone) for index, phrase in enumerate(self.phrases) if phrase.tone}
        self._memo: dict[object, tuple[Match, ...]] = {}
        self._near_memo: dict[str, NearMissAt] = {}
        self._canonical_codes = [coder.encode(normalize(phrase.text).chars) for phrase in self.phrases]

    def _keys(self, chars: str) -> tuple[frozenset[str], ...]:
        """For each key character of a wording, the codes of its class (see MatchSettings.key_chars)."""
        classes = [c for c in self.settings.key_chars if any(k in chars for k in c)]
        return tuple(frozenset(self._coder.encode(k) for k in c) for c in classes for k in chars if k in c)

    def _anchors(self, wording: _Wording) -> tuple[int, int]:
        """(syllables per index key, keys a close-enough occurrence shares with the text at least).

        A score s over n characters allows k = (1 - s) * 2n wrong characters (each costs two
        InDel operations of 4n over pinyin codes, or of 2n over characters). Each wrong
        character spoils at most two of the wording's n - 1 syllable pairs, so at least
        n - 1 - 2k pairs survive (the q-gram lemma); where that is not positive, at least one
        single syllable does. An exact homophone (short wordings) keeps every pair.
        """
        n = len(wording.chars)
        if not wording.fuzzy:
            return (2, n - 1) if n > 1 else (1, 1)
        wrong = self._wrong(wording)
        if n - 1 - 2 * wrong >= 1:
            return 2, n - 1 - 2 * wrong
        return 1, max(1, n - wrong)

    def _wrong(self, wording: _Wording) -> int:
        """How many of the wording's characters a close-enough occurrence may get wrong (see `_anchors`)."""
        if not wording.fuzzy:
            return 0
        threshold = min(self.settings.char_threshold, self.settings.pinyin_threshold)
        return int((1 - threshold) * 2 * len(wording.chars) + 1e-9)

    def wordings(self) -> tuple[str, ...]:
        """Every wording of the phrases, normalised (gapped wordings left out)."""
        return tuple(w.chars for w in self._wordings)

    def heard(self, texts: Sequence[tuple[int, str]]) -> HeardText:
        return HeardText.of(texts, self._coder)

    def matches(self, text: HeardText) -> tuple[Match, ...]:
        """The best match of each phrase said in `text` (at most one per phrase), best first."""
        # where the clauses break (the punctuation of the texts) matters only to phrases judged by their tone
        key = text.texts if self._tones else text.chars
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self._MAX_MEMO:
                self._memo.clear()
            found = self._memo[key] = self._search(text, self._candidates(text.codes))
        return found

    def taken_back(self, text: HeardText) -> tuple[TakenBack, ...]:
        """The phrases heard in `text` that do not count, each with why (`qcpipe rules test`):
        inside an allowed wording, or taken back by their clause (a polite request, an offer of
        help, out of place). A phrase that counts elsewhere in the text is not listed."""
        taken_back: dict[int, TakenBack] = {}
        kept = {id(m.phrase) for m in self._search(text, self._candidates(text.codes), taken_back)}
        return tuple(t for index, t in sorted(taken_back.items()) if id(self.phrases[index]) not in kept)

    def search_all(self, text: HeardText) -> tuple[Match, ...]:
        """`matches` without the index or memo: every wording scored (tests check they agree)."""
        return self._search(text, range(len(self._wordings)))

    def near_miss(self, text: HeardText) -> NearMissAt | None:
        """The phrase closest to being said, its pinyin similarity and where in `text` it
        nearly is (for evidence and tuning).

        Only each phrase's canonical wording is scored: this runs for every missing phrase, so
        it must stay cheap, and the canonical wording is what a monitor expects to read.
        """
        if not text.chars or not self.phrases:
            return None
        found = self._near_memo.get(text.chars)
        if found is None:
            if len(self._near_memo) >= self._MAX_MEMO:
                self._near_memo.clear()
            codes = self._padded(text.codes, 2)
            score, _, number = max((fuzz.partial_ratio(canonical, codes), phrase.text, number)
                                   for number, (canonical, phrase) in enumerate(zip(self._canonical_codes, self.phrases)))
            # where: the aligned stretch of pinyin codes (2 a character), less the padding
            aligned = fuzz.partial_ratio_alignment(self._canonical_codes[number], codes)
            pad = (len(codes) - len(text.codes)) // 2
            start = min(max(0, (aligned.dest_start - pad) // 2), len(text.chars))
            end = min(max(start, (aligned.dest_end - pad + 1) // 2), len(text.chars))
            canonical_chars = len(self._canonical_codes[number]) // 2
            found = self._near_memo[text.chars] = NearMissAt(
                self.phrases[number].text, round(score / 100, 3), start, end,
                canonical_chars >= self.settings.min_fuzzy_chars)
        return found

    def _candidates(self, codes: str) -> list[int]:
        """Wordings sharing enough syllables / syllable pairs with the text to possibly match."""
        grams = {codes[j:j + size] for size in self._anchor_sizes for j in range(0, len(codes) - size + 1, 2)}
        shared = Counter(chain.from_iterable(map(self._index.__getitem__, grams & self._index.keys())))
        needed, syllables = self._needed, self._syllables
        heard = {codes[j:j + 2] for j in range(0, len(codes) - 1, 2)}
        return sorted(number for number, count in shared.items() if count >= needed[number]
                      and len(heard.intersection(syllables[number][0])) >= syllables[number][1])

    def _search(self, text: HeardText, candidates, taken_back: dict[int, TakenBack] | None = None) -> tuple[Match, ...]:
        if not text.chars:
            return ()
        best: dict[int, Match] = {}
        inexact: list[_Wording] = []
        for number in candidates:  # exact first: a phrase said exactly needs no fuzzy scoring
            wording = self._wordings[number]
            position = text.chars.find(wording.chars)
            if position < 0:
                inexact.append(wording)
            # an occurrence taken back (unless_within, tone) leaves the next one to be judged
            while position >= 0 and not self._keep(best, wording.phrase_index, text, Match(
                    self.phrases[wording.phrase_index], wording.text, MatchKind.EXACT,
                    1.0, position, position + len(wording.chars)), taken_back):
                position = text.chars.find(wording.chars, position + 1)
        # Fuzzy: rank each phrase's close wordings by pinyin score (an upper bound of the
        # character score); only the winner is aligned, the loser tried if the winner fails.
        close: dict[int, list[tuple[float, int, _Wording]]] = {}
        codes = chars = ""
        for wording in inexact:
            found = best.get(wording.phrase_index)
            if found is not None and found.kind is MatchKind.EXACT:
                continue
            if not codes:
                codes, chars = self._padded(text.codes, 2), self._padded(text.chars, 1)
            pinyin = fuzz.partial_ratio(wording.codes, codes, score_cutoff=self._cutoff) / 100
            if pinyin and (wording.fuzzy or pinyin == 1.0):
                close.setdefault(wording.phrase_index, []).append((pinyin, len(wording.chars), wording))
        for index, ranked in close.items():
            for pinyin, _, wording in sorted(ranked, key=lambda r: r[:2], reverse=True):
                match = self._locate(wording, chars, codes, pinyin)
                if match is not None and self._keys_heard(wording, text.codes, match):
                    if self._keep(best, index, text, match, taken_back):
                        break
        for wording in self._gapped:
            if wording.phrase_index not in best:
                self._find_gapped(best, text, wording, taken_back)
        return tuple(sorted(best.values(), key=lambda m: (-m.score, m.start)))

    def _find_gapped(self, best: dict[int, Match], text: HeardText, wording: _GappedWording,
                     taken_back: dict[int, TakenBack] | None = None) -> None:
        """The first occurrence of a gapped wording its clause does not take back: each part
        exactly or as a homophone, in order, inside one clause, at most GAP_CHARS apart."""
        start = _part_at(text, wording, 0, 0)
        while start >= 0:
            end, homophone = self._chain(text, wording, start)
            if end >= 0:
                kind = MatchKind.PINYIN if homophone else MatchKind.EXACT
                match = Match(self.phrases[wording.phrase_index], wording.text, kind, 1.0, start, end)
                if self._keep(best, wording.phrase_index, text, match, taken_back):
                    return
            start = _part_at(text, wording, 0, start + 1)

    @staticmethod
    def _chain(text: HeardText, wording: _GappedWording, start: int) -> tuple[int, bool]:
        """(end, heard as homophones) of the wording's parts from `start`, or (-1, False)."""
        end = start + len(wording.chars[0])
        homophone = text.chars[start:end] != wording.chars[0]
        clause_end = text.clause(start, end)[1] if text.texts else len(text.chars)
        for number, chars in enumerate(wording.chars[1:], 1):
            at = _part_at(text, wording, number, end, min(clause_end, end + GAP_CHARS + len(chars)))
            if at < 0:
                return -1, False
            homophone |= text.chars[at:at + len(chars)] != chars
            end = at + len(chars)
        return end, homophone

    @staticmethod
    def _keys_heard(wording: _Wording, codes: str, match: Match) -> bool:
        """Every key character of the wording has a same-sounding one in the matched span."""
        if not wording.keys:
            return True
        heard = {codes[i:i + 2] for i in range(2 * match.start, 2 * match.end, 2)}
        return all(heard & key for key in wording.keys)

    def _padded(self, string: str, per_char: int) -> str:
        """`string` with pads on both sides as long as the longest wording.

        rapidfuzz's partial_ratio also scores windows cut short by the ends of the text: the
        prefix 我想投 of 我想投保… scores 0.86 against 我想投诉. Padded, every window is
        phrase-long and a phrase cut off by the end of the text pays for the missing part.
        """
        pad = _PAD * (per_char * self._longest)
        return pad + string + pad

    def _locate(self, wording: _Wording, chars: str, codes: str, pinyin: float) -> Match | None:
        """Score and place a close wording: a char match if the characters are as close as the
        pinyin (and close enough), else a pinyin match; None if neither reaches its threshold."""
        phrase = self.phrases[wording.phrase_index]
        settings = self.settings
        offset, length = self._longest, len(chars) - 2 * self._longest
        if wording.fuzzy:
            char_align = fuzz.partial_ratio_alignment(wording.chars, chars)
            char_score = char_align.score / 100 if char_align else 0.0
            if char_score >= settings.char_threshold and char_score >= pinyin:
                start, end = _clamp(char_align.dest_start - offset, char_align.dest_end - offset, length)
                return Match(phrase, wording.text, MatchKind.CHAR, round(char_score, 3),
                             *_snap(wording.chars, chars[offset:offset + length], start, end, unit=1))
        if pinyin < 1.0 and pinyin < settings.pinyin_threshold:
            return None
        align = fuzz.partial_ratio_alignment(wording.codes, codes)
        start, end = _clamp(align.dest_start // 2 - offset, (align.dest_end + 1) // 2 - offset, length)
        return Match(phrase, wording.text, MatchKind.PINYIN, round(pinyin, 3),
                     *_snap(wording.codes, codes[2 * offset:2 * (offset + length)], start, end))

    def _keep(self, best: dict[int, Match], index: int, text: HeardText, match: Match,
              taken_back: dict[int, TakenBack] | None = None) -> bool:
        """Keep `match` as its phrase's best unless it lies inside an allowed wording or its
        clause takes it back (the phrase's tone); `taken_back` collects why, when given."""
        why = ""
        exclusions = self._exclusions.get(index)
        if exclusions is not None:
            for allowed in exclusions.matches(text):  # inside a longer allowed wording: not a hit
                if allowed.start <= match.start + 1 and allowed.end >= match.end - 1:
                    why = f"inside the allowed wording {allowed.phrase.text}"
                    break
        tone = self._tones.get(index)
        if not why and tone is not None:
            why = tone.why_taken_back(text, match.start, match.end)
        if why:
            if taken_back is not None:
                taken_back.setdefault(index, TakenBack(match, why))
            return False
        found = best.get(index)
        if found is None or (match.score, match.kind is MatchKind.EXACT, len(match.wording)) > (
                found.score, found.kind is MatchKind.EXACT, len(found.wording)):
            best[index] = match
        return True


class _Tone:
    """A phrase's ToneRule with its marker lists compiled: does the clause take a hit back?"""

    def __init__(self, rule: ToneRule) -> None:
        self.rule = rule
        self.polite_before = _alternation(rule.polite_before)
        self.polite_after = _alternation(rule.polite_after)
        self.help_after = _alternation(rule.help_after)
        self.lead_ins = _alternation(rule.lead_ins, repeated=True)
        self.particles = _alternation(rule.particles, repeated=True)

    def why_taken_back(self, text: HeardText, start: int, end: int) -> str:
        """Why the hit at chars [start, end) does not count ("" if it does): out of place in its
        clause, said as a polite request, or followed by an offer of help."""
        rule, chars = self.rule, text.chars
        first, last = text.clause(start, end)
        if rule.clause != "any":
            if start > first and not _only(self.lead_ins, chars, first, start):
                return "not at the start of its clause"
            if rule.clause == "whole" and end < last and not _only(self.particles, chars, end, last):
                return "not the whole clause"
        if rule.polite:
            before = self.polite_before and self.polite_before.search(chars, first, last)
            if before and before.start() < start:
                return f"a polite request ({before.group()} before it)"
            after = self.polite_after and self.polite_after.search(chars, end, last)
            if after:
                return f"a polite request ({after.group()} after it)"
        if rule.help and self.help_after:
            offer = self.help_after.search(chars, end, text.clause(start, end, rule.help_clauses)[1])
            if offer:
                return f"an offer of help follows ({offer.group()})"
        return ""


def _part_at(text: HeardText, wording: _GappedWording, number: int, start: int, stop: int | None = None) -> int:
    """The first character position ≥ `start` where part `number` of a gapped wording is heard,
    ending by character `stop`; -1 if nowhere. A part of 3+ characters may be heard as a
    homophone (都不会 as 都不回); a shorter one must be exact: 你 folded (n/l) sounds like 里."""
    chars = wording.chars[number]
    if len(chars) < _HOMOPHONE_PART:
        return text.chars.find(chars, start, len(text.chars) if stop is None else stop)
    codes = text.codes
    limit = len(codes) if stop is None else min(len(codes), 2 * stop)
    part = wording.codes[number]
    at = codes.find(part, 2 * start, limit)
    while at >= 0 and at % 2:
        at = codes.find(part, at + 1, limit)
    return at // 2 if at >= 0 else -1


def _alternation(wordings: Sequence[str], repeated: bool = False) -> re.Pattern | None:
    """A regex of the normalised wordings, longest first (None for none); `repeated`: any run of them."""
    chars = sorted({normalize(w).chars for w in wordings} - {""}, key=len, reverse=True)
    if not chars:
        return None
    body = "|".join(map(re.escape, chars))
    return re.compile(f"(?:{body})+" if repeated else body)


def _only(pattern: re.Pattern | None, chars: str, start: int, end: int) -> bool:
    """Whether chars[start:end] is nothing but a run of the pattern's wordings."""
    return pattern is not None and pattern.fullmatch(chars, start, end) is not None


def _clamp(start: int, end: int, length: int) -> tuple[int, int]:
    """A span cut to the heard text (alignments may reach into the pads)."""
    start = min(max(start, 0), max(length - 1, 0))
    return start, min(max(end, start + 1), length)


def _snap(wording: str, heard: str, start: int, end: int, unit: int = 2) -> tuple[int, int]:
    """The character span near (start, end) of `heard` closest to `wording`.

    Strings are pinyin codes (`unit` 2 per character) or characters (`unit` 1). An alignment
    may start mid-character or take in a neighbour with an equal score (吗感谢您的来 vs
    感谢您的来赁 for 感谢您的来电); the evidence should quote the characters said: the
    wording's length, then the best similarity, then agreeing first and last characters.
    """
    length = len(heard) // unit

    def fit(span: tuple[int, int]) -> tuple[float, int, int]:
        part = heard[unit * span[0]:unit * span[1]]
        ends = part[:unit] + part[-unit:]
        return (-abs(len(part) - len(wording)), fuzz.ratio(wording, part),
                sum(a == b for a, b in zip(ends, wording[:unit] + wording[-unit:])))

    spans = {_clamp(s, e, length) for s in (start - 1, start, start + 1) for e in (end - 1, end, end + 1)}
    return max(sorted(spans), key=fit)
