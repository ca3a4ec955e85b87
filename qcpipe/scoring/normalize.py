"""Text as the rules compare it: normalised characters and their tone-less, fuzzy pinyin.

ASR writes the same words many ways: traditional or simplified characters, full- or half-width
digits, "3" or "三", with or without punctuation, and, most of all, homophones (致电 → 这电,
事 → 数). Rules compare two forms of every text:

- the normalised characters (`normalize`), one per spoken character, each remembering where it
  came from in the original text (so evidence can point at exact characters and times);
- a pinyin code string (`PinyinCoder`), two symbols per character (initial, final) after folding
  the pinyin pairs Mandarin speakers and ASR models confuse (zh/z, n/l, in/ing …). A homophone
  then costs nothing, a near-homophone half a character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")

# Spoken digits: ASR writes "3次" or "三次", "工号1007" or "工号一零零七". One character each,
# so positions in the text stay one-to-one.
_DIGITS = str.maketrans("0123456789幺", "零一二三四五六七八九一")


@dataclass(frozen=True)
class NormalizedText:
    """`chars`: the normalised characters; `source[i]`: index in the original text of chars[i]."""

    chars: str
    source: tuple[int, ...]


def normalize(text: str) -> NormalizedText:
    """Simplified, half-width, lower-case, digits as Chinese numerals, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text)
    if len(folded) != len(text):  # a ligature or similar expanded: fold char by char instead
        folded = "".join(unicodedata.normalize("NFKC", c)[:1] or " " for c in text)
    simplified = _T2S.convert(folded)
    if len(simplified) != len(folded):  # phrase-level conversion changed the length: go per char
        simplified = "".join(_T2S.convert(c)[:1] or c for c in folded)
    simplified = simplified.lower().translate(_DIGITS)
    kept = [(c, i) for i, c in enumerate(simplified) if c.isalnum()]
    return NormalizedText("".join(c for c, _ in kept), tuple(i for _, i in kept))


_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h",
             "j", "q", "x", "r", "z", "c", "s", "y", "w")


def split_syllable(syllable: str) -> tuple[str, str]:
    """'zhuang' → ('zh', 'uang'); 'an' → ('', 'an'); a non-pinyin token → ('', token)."""
    for initial in _INITIALS:
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial):]
    return "", syllable


class PinyinCoder:
    """Turns normalised text into a pinyin code string, two code points per character.

    Codes are private-use characters, one per folded initial and one per folded final, so
    rapidfuzz compares them like any string and position 2*i, 2*i+1 is character i.
    Per-character readings are looked up once and memoised: pypinyin over a whole sentence costs
    ~150 µs, a dict lookup per character well under 1 µs. Each character takes its default
    reading; the same rule applies to phrases and to heard text, so homophones line up.
    """

    _CODE_BASE = 0xE000
    _MAX_CACHED_TEXTS = 200_000

    def __init__(self, equivalents: tuple[tuple[str, str], ...] = ()) -> None:
        self._initials: dict[str, str] = {}
        self._final_suffixes: list[tuple[str, str]] = []
        for a, b in equivalents:
            if a in _INITIALS or b in _INITIALS:
                self._initials[a if len(a) >= len(b) else b] = b if len(a) >= len(b) else a
            else:  # fold the longer final into the shorter: ang → an also folds iang → ian
                longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
                self._final_suffixes.append((longer, shorter))
        self._symbols: dict[str, str] = {}
        self._char_codes: dict[str, str] = {}
        self._text_codes: dict[str, str] = {}

    def _symbol(self, key: str) -> str:
        code = self._symbols.get(key)
        if code is None:
            code = self._symbols[key] = chr(self._CODE_BASE + len(self._symbols))
        return code

    def fold(self, syllable: str) -> tuple[str, str]:
        """The (initial, final) a syllable is compared as, after the equivalences."""
        initial, final = split_syllable(syllable)
        initial = self._initials.get(initial, initial)
        for longer, shorter in self._final_suffixes:
            if final.endswith(longer):
                final = final[: len(final) - len(longer)] + shorter
                break
        return initial, final

    def char_code(self, char: str) -> str:
        code = self._char_codes.get(char)
        if code is None:
            syllable = _reading(char) if "\u3400" <= char else ""
            if syllable and syllable != char:
                initial, final = self.fold(syllable)
                code = self._symbol("i:" + initial) + self._symbol("f:" + final)
            else:  # not Chinese: a letter or digit stands for itself
                code = self._symbol("i:") + self._symbol("c:" + char)
            self._char_codes[char] = code
        return code

    def encode(self, chars: str) -> str:
        """The code string of normalised text (memoised: scripted lines repeat all day)."""
        codes = self._text_codes.get(chars)
        if codes is None:
            if len(self._text_codes) >= self._MAX_CACHED_TEXTS:
                self._text_codes.clear()
            known = self._char_codes
            codes = self._text_codes[chars] = "".join([known.get(c) or self.char_code(c) for c in chars])
        return codes

    def readable(self, chars: str) -> str:
        """The folded pinyin of text, space separated, for messages and tests."""
        codes = self.encode(chars)
        names = {code: key.split(":", 1)[1] for key, code in self._symbols.items()}
        return " ".join(names[codes[i]] + names[codes[i + 1]] for i in range(0, len(codes), 2))


@lru_cache(maxsize=None)
def syllable(char: str) -> str:
    """A normalised character's toneless pinyin (its default reading), or the character itself
    when it is not Chinese (a letter or digit); memoised."""
    return _reading(char) if "\u3400" <= char else char


def _reading(char: str) -> str:
    """A character's toneless pinyin. pypinyin loads its dictionaries (a quarter of a second)
    on import: only commands that match phrases pay for it, and only once."""
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(char, style=Style.NORMAL, errors="default")[0]
