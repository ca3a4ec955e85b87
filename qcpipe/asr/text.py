"""Clean what Whisper writes before anything is stored.

- Simplified Chinese: faster-whisper mixes scripts (服務 next to服务) even with language="zh";
  the rules and the people reading transcripts expect simplified.
- Known hallucinations: trained on subtitled video, Whisper fills silence and line noise with
  credits and "like and subscribe" lines. They are never what an agent said and must never
  reach a quality check.
- Loops: in noise (a room's voices under the agent) Whisper's decoder can fall into repeating
  text, often a line from earlier in the window, in place of what was said there
  (感谢您的来电，再见 heard as 请您提供一下保单号。请您提供一下保单号。请您提供一下保单号。).
  `loops` tells the transcriber which stretches to decode again on their own.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

# Each pattern matches a whole utterance (after punctuation and spaces are removed) that is
# a known Whisper hallucination on silence or noise in Chinese audio.
_HALLUCINATIONS = [
    r".*字幕.*(提供|制作|志愿者|翻译|校对)",
    r".*(请|欢迎)?(不吝|点赞|订阅|转发|打赏).*(点赞|订阅|转发|打赏|支持).*",
    r"(感谢|谢谢)(大家|各位)?(的)?(收看|观看|收听)(本期视频)?",
    r".*明镜(与|和)点点栏目.*",
    r".*(优优独播剧场|YoYoTelevisionSeriesExclusive).*",
    r".*amara\.?org.*",
    r"(中文|简体)?字幕(by|由)?.*",
    r"(本|该)?(节目|视频)(由|內容).*提供.*",
    r"我们下期再见",
]
_HALLUCINATION_RE = re.compile("|".join(f"(?:{p})" for p in _HALLUCINATIONS), re.IGNORECASE)
_PUNCT_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)
# A stretch of at least this many characters said twice in a row is a loop. People do repeat
# short words (好的好的, 对对对, 喂您好喂您好); a repeated line of four or more characters is
# rare in speech and the mark of Whisper's repetition loops. A real repetition costs only a
# second decoding, which hears it again.
LOOP_MIN_CHARS = 4


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC's phrase-aware conversion)."""
    return _t2s().convert(text)


def is_hallucination(text: str) -> bool:
    """True when the whole utterance is a known Whisper silence/noise hallucination."""
    bare = _PUNCT_SPACE.sub("", to_simplified(text))
    return bool(bare) and _HALLUCINATION_RE.fullmatch(bare) is not None


def spoken_length(text: str) -> int:
    """How many characters of `text` are said (punctuation and spaces left out)."""
    return len(_PUNCT_SPACE.sub("", text))


def loops(text: str, min_chars: int = LOOP_MIN_CHARS) -> bool:
    """True when some stretch of at least `min_chars` characters (punctuation and spaces left
    out) comes twice in a row: 请您提供一下保单号请您提供一下保单号."""
    bare = _PUNCT_SPACE.sub("", text)
    for size in range(min_chars, len(bare) // 2 + 1):
        if any(bare[i:i + size] == bare[i + size:i + 2 * size] for i in range(len(bare) - 2 * size + 1)):
            return True
    return False
