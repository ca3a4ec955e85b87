"""Normalised text and fuzzy pinyin codes."""

from __future__ import annotations

from qcpipe.scoring.normalize import PinyinCoder, normalize, split_syllable

EQUIVALENTS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("an", "ang"), ("en", "eng"), ("in", "ing"))


def test_normalize_folds_script_width_digits_and_punctuation():
    text = "感謝您的來電，工號１００７！ OK"
    normalized = normalize(text)
    assert normalized.chars == "感谢您的来电工号一零零七ok"
    # every kept character remembers where it was in the original
    assert [text[i] for i in normalized.source][:6] == list("感謝您的來電")
    assert text[normalized.source[-1]] == "K"


def test_normalize_empty_and_punctuation_only():
    assert normalize("").chars == ""
    assert normalize("，。？！ ").chars == ""


def test_split_syllable():
    assert split_syllable("zhuang") == ("zh", "uang")
    assert split_syllable("an") == ("", "an")
    assert split_syllable("yu") == ("y", "u")


def test_homophones_share_codes():
    coder = PinyinCoder(EQUIVALENTS)
    assert coder.encode("致电") == coder.encode("智电")
    assert coder.encode("事") == coder.encode("是")
    assert coder.encode("不便") == coder.encode("不变")


def test_fuzzy_pairs_fold_initials_and_finals():
    coder = PinyinCoder(EQUIVALENTS)
    assert coder.encode("致") == coder.encode("字")      # zh / z
    assert coder.encode("尽快") == coder.encode("景快")    # in / ing
    assert coder.encode("年") == coder.encode("连")      # n / l
    assert coder.readable("详") == "xian"                # iang folds to ian (suffix rule)
    plain = PinyinCoder()
    assert plain.encode("致") != plain.encode("字")


def test_near_homophone_differs_in_one_code_of_two():
    coder = PinyinCoder(EQUIVALENTS)
    dian, bian = coder.encode("电"), coder.encode("便")
    assert len(dian) == 2 and dian[0] != bian[0] and dian[1] == bian[1]


def test_non_chinese_characters_code_as_themselves():
    coder = PinyinCoder(EQUIVALENTS)
    assert len(coder.encode("app")) == 6
    assert coder.encode("a") != coder.encode("b")
