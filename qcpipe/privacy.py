"""Masking personal numbers in transcripts (个人信息保护): mobile and landline phone numbers,
身份证 (ID card) numbers and bank-card numbers, each switched by `PrivacySettings`.

What is a number: a run of digits as ASR writes them, Arabic (13812345678, full-width too)
or spoken Chinese (一三八…, 幺 for 1, 两 for 2, 零/〇 for 0), mixed or not, possibly grouped
by spaces or dashes (138-1234-5678, 一三八 一二三四 五六七八). An ID card may end in X (or
叉, how X is said). A run is masked only when its length says what it is:

- phone: 11-digit mobile 1[3-9]… (also after 86), or a landline with its area code:
  0 + 2–3 digit area code + 7–8 digits (10–12 digits). A bare 7–8 digit landline is kept:
  it is the length of an order or policy number.
- ID card: 18 characters (17 digits + a digit or X) that start with a region digit and hold
  a birth date, or 15 digits (the old card).
- bank card: 16–19 digits (an 18-digit run that is not an ID).

Everything shorter is kept on purpose: order numbers (订单号 七七八九零一二, 7 digits), policy
numbers (8), dates (二零二六年), amounts, 工号 and the last four digits of a card. A false mask
hides evidence a monitor or an appealing agent needs, so the rule is "the length of a personal
number, or nothing". A run glued to Latin letters (SF1234567890123) is a code, and one
followed by 元/块/万/亿/% or after ¥ is an amount: both are kept.

Each digit becomes one mask character (* for Arabic, ＊ for Chinese) and separators stay, so
the masked text has the length of the heard text: word texts and character times still align.
A number read in pieces is often cut into several utterances (the transcriber splits at
0.6 s pauses); `mask_dialogue` joins one speaker's utterances less than `CHAIN_GAP_S` apart
so such a number is seen whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from qcpipe.asr.types import Segment, Transcript
from qcpipe.config import PrivacySettings

if TYPE_CHECKING:
    from qcpipe.store.models import Segment as StoredSegment

CHAIN_GAP_S = 2.0  # one speaker's pause while reading out a number, at most

_ARABIC = "0123456789０１２３４５６７８９"
_CHINESE = "零〇一幺二两三四五六七八九"
_VALUE = {c: str(i % 10) for i, c in enumerate(_ARABIC)} | dict(zip(_CHINESE, "0011223456789"))
_X = "XxＸｘ叉"
_SEPARATORS = " \u3000\t-‐‑‒–—―－"
_SEPARATOR = f"[{re.escape(_SEPARATORS)}]"
_RUN = re.compile(rf"[{_ARABIC}{_CHINESE}](?:{_SEPARATOR}{{0,2}}[{_ARABIC}{_CHINESE}])*(?:[{_X}](?![A-Za-z]))?")
_AMOUNT_AFTER = re.compile(rf"{_SEPARATOR}*[元块塊万萬亿億%％]|[.．点][{_ARABIC}{_CHINESE}]")
_AMOUNT_BEFORE = tuple("¥￥$")
_LINE_BREAK = "\n"  # joins utterances that must not be read as one number (not a separator)
_ENABLED = {
    "phone": lambda s: s.mask_phone,
    "id_card": lambda s: s.mask_id_card,
    "bank_card": lambda s: s.mask_bank_card,
}


def mask_text(text: str, settings: PrivacySettings) -> str:
    """`text` with the phone, ID-card and bank-card numbers `settings` asks for masked, same length."""
    if not (settings.mask_phone or settings.mask_id_card or settings.mask_bank_card):
        return text
    return _RUN.sub(lambda run: _masked_run(run, settings), text)


def mask_dialogue(utterances: Sequence[tuple[int, float, float, str]], settings: PrivacySettings) -> list[str]:
    """The masked text of each (channel, start, end, text) utterance of one call, in the given order.

    A number one speaker reads across utterances less than `CHAIN_GAP_S` apart is masked whole.
    """
    order = sorted(range(len(utterances)), key=lambda i: (utterances[i][0], utterances[i][1]))
    joined, spans, previous = [], [], None
    for i in order:
        channel, start, end, text = utterances[i]
        if previous is not None:
            close = previous[0] == channel and start - previous[1] <= CHAIN_GAP_S
            joined.append(" " if close else _LINE_BREAK)
        position = sum(map(len, joined))
        joined.append(text)
        spans.append((i, position, position + len(text)))
        previous = (channel, end)
    masked = mask_text("".join(joined), settings)
    texts = [""] * len(utterances)
    for i, lo, hi in spans:
        texts[i] = masked[lo:hi]
    return texts


def mask_stored_segments(segments: Sequence[StoredSegment], settings: PrivacySettings) -> list[str]:
    """`mask_dialogue` of a call's stored segments: the text to show or export for each."""
    return mask_dialogue([(s.channel, s.start_s, s.end_s, s.text) for s in segments], settings)


def mask_word_texts(word_texts: Sequence[str], heard: str, masked: str, settings: PrivacySettings) -> list[str]:
    """Word texts masked like their utterance: `masked` is `heard` (their joined text) masked.

    Word texts that do not join to `heard` (never, from qcpipe's ASR) are masked on their own.
    """
    if "".join(word_texts) != heard:
        masked = mask_text("".join(word_texts), settings)
    pieces, position = [], 0
    for text in word_texts:
        pieces.append(masked[position : position + len(text)])
        position += len(text)
    return pieces


def mask_segments(segments: Sequence[Segment], settings: PrivacySettings) -> tuple[Segment, ...]:
    """The segments of one call with text and word texts masked alike (times untouched)."""
    texts = mask_dialogue([(s.channel, s.start, s.end, s.text) for s in segments], settings)
    masked = []
    for segment, text in zip(segments, texts):
        if text == segment.text:
            masked.append(segment)
            continue
        word_texts = mask_word_texts([w.text for w in segment.words], segment.text, text, settings)
        words = tuple(replace(word, text=t) for word, t in zip(segment.words, word_texts))
        masked.append(replace(segment, text=text, words=words))
    return tuple(masked)


def mask_transcript(transcript: Transcript, settings: PrivacySettings) -> Transcript:
    """A transcript as it may be stored or shown: personal numbers masked, everything else kept."""
    return replace(transcript, segments=mask_segments(transcript.segments, settings))


def _masked_run(run: re.Match[str], settings: PrivacySettings) -> str:
    number = run.group()
    digits = "".join(_VALUE[c] for c in number if c in _VALUE)
    kind = _kind(digits, number[-1] in _X)
    if kind is None and number[-1] in _X:  # an X that does not complete an ID is not part of the number
        number, kind = number[:-1], _kind(digits, False)
    before = run.string[run.start() - 1] if run.start() else ""
    after = run.string[run.start() + len(number) :]
    if kind is None or not _ENABLED[kind](settings) or _is_code_or_amount(before, after):
        return run.group()
    return "".join(map(_hide, number)) + run.group()[len(number) :]


def _hide(char: str) -> str:
    if char in _CHINESE or char == "叉":
        return "＊"
    return "*" if char in _VALUE or char in _X else char


def _is_code_or_amount(before: str, after: str) -> bool:
    """Letters glued on (an order or waybill code), a currency sign, a unit or decimals (an amount)."""
    glued_to_letter = any(c.isascii() and c.isalpha() for c in (before, after[:1]))
    return glued_to_letter or before in _AMOUNT_BEFORE or _AMOUNT_AFTER.match(after) is not None


def _kind(digits: str, has_x: bool) -> str | None:
    """phone, id_card, bank_card, or None for a number of no personal kind (kept)."""
    n = len(digits)
    if has_x:
        return "id_card" if n == 17 and _is_id_start(digits) else None
    if _is_mobile(digits) or (n == 13 and digits.startswith("86") and _is_mobile(digits[2:])):
        return "phone"
    if 10 <= n <= 12 and digits[0] == "0" and digits[1] != "0":
        return "phone"
    if n == 15 or (n == 18 and _is_id_start(digits)):
        return "id_card"
    if 16 <= n <= 19:
        return "bank_card"
    return None


def _is_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def _is_id_start(digits: str) -> bool:
    """A region code (provinces are 11–82) followed by a birth date YYYYMMDD in 1900–2099."""
    year, month, day = int(digits[6:10]), int(digits[10:12]), int(digits[12:14])
    return digits[0] in "12345678" and 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31
