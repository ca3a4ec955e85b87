"""One call as the rule kinds see it: segments in order, turns, windows, and evidence."""

from __future__ import annotations

from typing import Sequence

from qcpipe.asr.types import Role, Segment, SpeechRegion, Word
from qcpipe.scoring.matchers.base import Hit
from qcpipe.scoring.matching import HeardText, Match, MatchKind, NearMissAt, PhraseMatcher, normalize_cached
from qcpipe.scoring.model import CallInput
from qcpipe.scoring.normalize import PinyinCoder
from qcpipe.scoring.spec import EvidenceSettings, Phrase, Window


class CallView:
    """One call prepared for the rules: segments in time order, turns per role, evidence helpers.

    A *turn* is a run of one role's segments that the other party does not interrupt with a
    substantive utterance; backchannels and ASR noise ("嗯", "好的", "能") do not break a turn.
    """

    MIN_INTERRUPTION_CHARS = 3

    def __init__(self, call: CallInput, coder: PinyinCoder, evidence: EvidenceSettings = EvidenceSettings()) -> None:
        self.call = call
        self.coder = coder
        self.doubt_settings = evidence
        self.segments: tuple[Segment, ...] = tuple(sorted(call.segments, key=lambda s: (s.start, s.end)))
        self.roles_known = call.roles_known
        self._turns: dict[Role, list[list[int]]] = {Role.AGENT: [], Role.CUSTOMER: [], Role.UNKNOWN: []}
        open_turn: dict[Role, bool] = {}
        for index, segment in enumerate(self.segments):
            if not open_turn.get(segment.role):
                self._turns[segment.role].append([])
            self._turns[segment.role][-1].append(index)
            open_turn[segment.role] = True
            if len(normalize_cached(segment.text).chars) >= self.MIN_INTERRUPTION_CHARS:
                for other in open_turn:
                    if other is not segment.role:
                        open_turn[other] = False
        self.memo: dict[tuple, object] = {}  # results rules share within this call (heard texts, triggers)

    def turns(self, role: Role) -> list[list[int]]:
        return self._turns[role]

    def heard(self, indices: Sequence[int]) -> HeardText:
        key = ("heard", *indices)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = HeardText.of([(i, self.segments[i].text) for i in indices], self.coder)
        return found

    def window(self, role: Role, window: Window) -> list[int]:
        """Indices of the role's segments inside `window` (empty if the role never spoke)."""
        turns = self._turns[role]
        if not turns:
            return []
        if window.anchor == "start":
            chosen = turns[: window.turns] if window.turns else turns
            limit = self.segments[turns[0][0]].start + window.seconds
            return [i for turn in chosen for i in turn if self.segments[i].start <= limit]
        chosen = turns[-window.turns:] if window.turns else turns
        limit = max(self.segments[i].end for i in turns[-1]) - window.seconds
        return [i for turn in chosen for i in turn if self.segments[i].end >= limit]

    def evidence(self, heard: HeardText, match: Match) -> tuple[str, float, float]:
        """(quote, start, end) of a match: the characters as heard and their times."""
        first_segment, first_char = heard.locate(match.start)
        last_segment, last_char = heard.locate(max(match.start, match.end - 1))
        pieces = []
        for index in range(first_segment, last_segment + 1):
            if any(index == i for i, _ in heard.parts):
                text = self.segments[index].text
                lo = first_char if index == first_segment else 0
                hi = last_char + 1 if index == last_segment else len(text)
                pieces.append(text[lo:hi])
        start = char_time(self.segments[first_segment], first_char)[0]
        end = char_time(self.segments[last_segment], last_char)[1]
        return "".join(pieces), start, end

    def unheard_in(self, role: Role, start: float, end: float) -> SpeechRegion | None:
        """The first stretch of the role's speech in [start, end] that could not be heard."""
        for span in self.call.unheard:
            if span.role is role and span.start < end and span.end > start:
                return span
        return None

    def speech_bounds(self, role: Role) -> tuple[float, float] | None:
        """When the role's speech starts and ends, heard or not (None: the role never spoke)."""
        times = [(self.segments[i].start, self.segments[i].end) for turn in self._turns[role] for i in turn]
        times += [(span.start, span.end) for span in self.call.unheard if span.role is role]
        if not times:
            return None
        return min(t[0] for t in times), max(t[1] for t in times)

    def doubt(self, indices: Sequence[int], heard: HeardText | None, nearest: NearMissAt | None) -> str:
        """Why the absence of a phrase from the window `indices` (heard as `heard`) is doubtful
        ("" if it is not): the window was heard with low confidence, or what was heard nearly
        is the phrase and was heard poorly, in the window or just there."""
        settings = self.doubt_settings
        words = [word for i in indices for word in self.segments[i].words]
        confidence = sum(w.probability for w in words) / len(words) if words else 1.0
        judged = sum(len(w.text) for w in words) >= settings.doubtful_min_chars
        if judged and confidence < settings.doubtful_confidence:
            return f"the window was heard with low confidence (mean word probability {confidence:.2f})"
        if not nearest or not nearest.approximate or nearest.score < settings.doubtful_near_miss:
            return ""
        where = f"what was heard nearly matches {nearest.phrase} ({nearest.score:.2f})"
        if confidence < settings.near_miss_confidence:
            return f"{where} and was heard with mean word probability {confidence:.2f}"
        there = self.words_at(heard, nearest.start, nearest.end) if heard is not None else []
        weakest = min(there, key=lambda w: w.probability, default=None)
        if weakest is not None and weakest.probability < settings.near_miss_word_probability:
            return f"{where}; the word {weakest.text} there was heard with probability {weakest.probability:.2f}"
        return ""

    def said_doubt(self, heard: HeardText, match: Match) -> str:
        """Why a phrase found in `heard` may not have been said by the speaker after all ("" if
        it may not be doubted): its words were heard with low probabilities."""
        floor = self.doubt_settings.said_word_probability
        words = self.words_at(heard, match.start, match.end) if floor else []
        if not words:
            return ""
        mean = sum(w.probability for w in words) / len(words)
        if mean >= floor:
            return ""
        quote = "".join(w.text for w in words)
        return (f"{quote} was heard with mean word probability {mean:.2f}: perhaps other words, "
                "or another voice than the speaker's; listen before charging")

    def words_at(self, heard: HeardText, start: int, end: int) -> list[Word]:
        """The recognised words under the normalised characters [start, end) of `heard`."""
        found: dict[tuple[int, int], Word] = {}
        for position in range(start, min(end, len(heard.chars))):
            index, char = heard.locate(position)
            at = 0
            for number, word in enumerate(self.segments[index].words):
                if at <= char < at + len(word.text):
                    found[(index, number)] = word
                    break
                at += len(word.text)
        return [found[key] for key in sorted(found)]

    def span_text(self, indices: Sequence[int]) -> tuple[str, float, float]:
        """(text, start, end) of a run of segments, for a phrase that was missing from it."""
        if not indices:
            return "", 0.0, 0.0
        segments = [self.segments[i] for i in indices]
        return " ".join(s.text for s in segments), segments[0].start, max(s.end for s in segments)


def char_time(segment: Segment, position: int) -> tuple[float, float]:
    """`segment.char_times()[position]`, without building the whole list (evidence is hot)."""
    if sum(len(word.text) for word in segment.words) != len(segment.text):
        return segment.start, segment.end
    for word in segment.words:
        n = len(word.text)
        if position < n:
            step = (word.end - word.start) / n
            return round(word.start + position * step, 3), round(word.start + (position + 1) * step, 3)
        position -= n
    return segment.start, segment.end


def hit_for(call: CallView, heard: HeardText, match: Match, role: Role, **extra) -> Hit:
    """A Hit for a phrase that was said."""
    quote, start, end = call.evidence(heard, match)
    return Hit(speaker=role, start=start, end=end, quote=quote, phrase=match.phrase.text,
               wording=match.wording, match_kind=match.kind, score=match.score, **extra)


def unheard_reason(span: SpeechRegion) -> str:
    """Why an absence check cannot rule: the words it looks for may be in this span."""
    return (f"{span.role} speech at {span.start:.1f}–{span.end:.1f} s was heard but could not be "
            "transcribed (unheard): the phrase may have been said there")


def missing_hit(call: CallView, matcher: PhraseMatcher, indices: Sequence[int], heard: HeardText | None,
                role: Role, phrase: Phrase, note: str) -> Hit:
    """A Hit for a required phrase that was not said in the window `indices`."""
    text, start, end = call.span_text(indices)
    text = text or f"(no {role} speech in the window)"
    nearest = matcher.near_miss(heard) if heard is not None else None
    if nearest:
        note += f"; nearest: {nearest[0]} ({nearest[1]:.2f})"
    return Hit(speaker=role, start=start, end=end, quote=text, phrase=phrase.text, wording="",
               match_kind=MatchKind.ABSENT, score=nearest[1] if nearest else 0.0, note=note,
               doubt=call.doubt(indices, heard, nearest) if indices else "")


def measured_hit(call: CallView, role: Role, start: float, end: float, note: str, quote: str | None = None) -> Hit:
    """A Hit for what the audio's timing or loudness shows (a silence, an overlap, a rate).

    quote: the words to show with it; by default what the role said in [start, end], or, if
    nothing, a bracketed description of the span.
    """
    if quote is None:
        quote = " ".join(s.text for s in call.segments if s.role is role and s.start < end and s.end > start)
    return Hit(speaker=role, start=start, end=end, quote=quote or f"[{end - start:.1f} s]", phrase="", wording="",
               match_kind=MatchKind.MEASURED, score=0.0, note=note)
