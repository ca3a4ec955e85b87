"""Clean what Whisper writes before anything is stored.

- Simplified Chinese: faster-whisper mixes scripts (服務 next to服务) even with language="zh";
  the rules and the people reading transcripts expect simplified.
- Known hallucinations: trained on subtitled video, Whisper fills silence and line noise with
  credits and "like and subscribe" lines. They are never what an agent said and must never
  reach a quality check.
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
