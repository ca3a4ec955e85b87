"""The phrase matcher: exact, char-fuzzy and pinyin-fuzzy hits, spans, thresholds, the index."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from qcpipe.scoring import MatchKind
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.normalize import PinyinCoder
from qcpipe.scoring.spec import MatchSettings, Phrase, ToneRule, expand_pattern

EQUIVALENTS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("an", "ang"), ("en", "eng"), ("in", "ing"))
SETTINGS = MatchSettings(0.82, 0.82, 4, EQUIVALENTS, ("我", "您你", "不", "没"))


def matcher(*texts: str, settings: MatchSettings = SETTINGS) -> PhraseMatcher:
    return PhraseMatcher([Phrase(t, tuple(expand_pattern(t))) for t in texts], settings, PinyinCoder(EQUIVALENTS))


def find(m: PhraseMatcher, text: str):
    heard = m.heard([(0, text)])
    return [(x.phrase.text, x.kind, heard.chars[x.start:x.end]) for x in m.matches(heard)]


def test_exact_match_and_span():
    m = matcher("欢迎致电")
    assert find(m, "您好，欢迎致电安心保险") == [("欢迎致电", MatchKind.EXACT, "欢迎致电")]


def test_homophone_is_a_pinyin_match():
    m = matcher("(这)?不关我的事")
    hits = m.matches(m.heard([(0, "不关我的数,我不清楚")]))
    assert hits and hits[0].kind is MatchKind.PINYIN
    assert m.matches(m.heard([(0, "欢迎这电视北广场")])) == ()  # unrelated phrase


@pytest.mark.parametrize("phrase, heard", [
    ("感谢您的来电", "感谢您的来便,祝您生活愉快"),   # near-homophone: d/b
    ("尽快核实处理", "会景快得失处理"),              # in/ing and h/d
    ("给您添麻烦了", "给您先麻烦了"),
    ("我是新手", "我是金手了"),
    ("管理人员会与您联系", "稍候我们的管理人员会于您的联系"),  # an extra character
])
def test_asr_errors_still_match(phrase, heard):
    assert find(matcher(phrase), heard), heard


@pytest.mark.parametrize("phrase, heard", [
    ("怎么这么差", "我这个月的话费怎么这么多"),      # one whole character off in five
    ("我想投诉", "我想投保一份意外险"),              # cut short by the end of a window
    ("这不是我的问题", "这不是您的问题"),            # key character (pronoun) differs
    ("还没解决", "上次的问题已经解决了"),            # negation missing
    ("再见", "在家"),                                # short phrases: exact homophones only
])
def test_near_misses_do_not_match(phrase, heard):
    assert find(matcher(phrase), heard) == []


def test_short_phrase_matches_exact_homophone():
    assert find(matcher("再见"), "好的在见") == [("再见", MatchKind.PINYIN, "在见")]


def test_best_match_per_phrase_and_order():
    m = matcher("抱歉", "对不起")
    hits = find(m, "对不起，非常抱歉")
    assert {h[0] for h in hits} == {"抱歉", "对不起"}


def test_span_maps_back_to_segments_across_a_boundary():
    m = matcher("感谢您的来电")
    heard = m.heard([(3, "还有其他可以帮您的吗感"), (4, "谢您的来电再见")])
    (hit,) = m.matches(heard)
    assert heard.locate(hit.start) == (3, 10)
    assert heard.locate(hit.end - 1) == (4, 4)


def test_unless_within_suppresses_a_hit_inside_an_allowed_wording():
    m = PhraseMatcher([Phrase("不好意思", ("不好意思",), unless_within=("不好意思我是新手",))], SETTINGS,
                      PinyinCoder(EQUIVALENTS))
    assert m.matches(m.heard([(0, "喂，不好意思，我是新手啦")])) == ()
    assert m.matches(m.heard([(0, "不好意思，给您添麻烦了")]))


def test_thresholds_are_respected():
    strict = MatchSettings(0.95, 0.95, 4, EQUIVALENTS)
    assert find(matcher("感谢您的来电", settings=strict), "感谢您的来便") == []
    assert find(matcher("感谢您的来电", settings=strict), "感谢您的来电") != []


def test_near_miss_reports_the_closest_phrase():
    m = matcher("感谢您的来电", "再见")
    assert m.near_miss(m.heard([(0, "好了就这样吧")]))[1] < 0.82
    assert m.near_miss(m.heard([(0, "")])) is None


def test_index_and_memo_agree_with_scoring_every_wording(rulebook):
    """The syllable-pair index only skips wordings that cannot reach the thresholds."""
    rng = random.Random(3)
    lines = ["您好欢迎致电市北广场很高兴为您服务", "这不关我的数我不清楚您打别的电话吧", "感谢您的来便祝您生活愉快再见",
             "我已经打了三次电话了到现在还没解决", "您反应的问题我已经记住下来会景快得失处理", "请您收等我帮您查写一下",
             "喂嘴巴干净一点这又不是我的错", "稍候我们的管理人员会于您的联系", "你们克服态度怎么这么长我要投注你们"]
    filler = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要"
    texts = lines + ["".join(rng.choice(filler) if rng.random() < 0.15 else c for c in line)
                     for line in lines for _ in range(20)]
    matchers = {id(m): m for rule in rulebook.rules for m in _matchers(rule.matcher)}
    for m in matchers.values():
        for text in texts:
            heard = m.heard([(0, text)])
            assert m.matches(heard) == m.search_all(heard), (text, m.phrases[0].text)


def _matchers(kind):
    for name in ("matcher", "trigger", "response"):
        if hasattr(kind, name):
            yield getattr(kind, name)
    for group in getattr(kind, "groups", ()):
        yield group.matcher


def test_allowed_wording_must_really_be_there():
    """unless_within matches exactly (or as homophones) only: 我是新手啦 is not 我是新手机."""
    m = PhraseMatcher([Phrase("我是新手", ("我是新手",), unless_within=("我是新手机",))],
                      MatchSettings(0.75, 0.75, 4, EQUIVALENTS), PinyinCoder(EQUIVALENTS))
    assert m.matches(m.heard([(0, "喂，不好意思，我是新手啦！")]))
    assert m.matches(m.heard([(0, "我是新手机号码")])) == ()


# --- tone: the clause around a hit -------------------------------------------------------------

TONE = ToneRule(polite_before=("请", "麻烦"), polite_after=("好吗",), help_after=("帮您查", "帮您问"),
                help_clauses=1, lead_ins=("喂", "哎"), particles=("啊", "吧", "了"))


def toned(phrase: str, **rule) -> PhraseMatcher:
    return PhraseMatcher([Phrase(phrase, tuple(expand_pattern(phrase)), tone=replace(TONE, **rule))], SETTINGS,
                         PinyinCoder(EQUIVALENTS))


def said(m: PhraseMatcher, *texts: str) -> list[str]:
    heard = m.heard(list(enumerate(texts)))
    return [heard.chars[x.start:x.end] for x in m.matches(heard)]


def test_clauses_end_at_punctuation_spaces_and_segment_ends():
    m = matcher("再见")
    heard = m.heard([(0, "喂，这不关我的事。我不清楚 您打别的电话吧"), (1, "好的"), (2, "再见！")])
    starts = heard.clause_starts
    clauses = [heard.chars[a:b] for a, b in zip(starts, starts[1:] + (len(heard.chars),))]
    assert clauses == ["喂", "这不关我的事", "我不清楚", "您打别的电话吧", "好的", "再见"]
    assert heard.clause(2, 4) == (1, 7) and heard.clause(2, 4, more=1) == (1, 11)
    assert m.heard([(0, "，，")]).clause_starts == (0,)  # nothing heard: one empty clause


def test_a_polite_marker_before_the_hit_in_its_clause_takes_it_back():
    m = toned("大声点", polite=True)
    assert said(m, "听不见，大声点！") == ["大声点"]
    assert said(m, "请您大声点") == [] and said(m, "麻烦您说话大声点") == []
    assert said(m, "您说话大声点好吗？") == []  # a question tag after it
    assert said(m, "请稍等，大声点") == ["大声点"]  # the 请 belongs to another clause


def test_a_hit_said_twice_counts_when_one_occurrence_is_not_taken_back():
    m = toned("大声点", polite=True)
    assert said(m, "请您大声点，大声点！") == ["大声点"]


def test_an_offer_of_help_in_the_next_clauses_takes_a_hit_back():
    m = toned("我不清楚", help=True)
    assert said(m, "我不清楚，我帮您问一下") == [] and said(m, "我不清楚我帮您查") == []
    assert said(m, "我不清楚，你问别人吧") == ["我不清楚"]
    assert said(m, "我帮您查过了，我不清楚") == ["我不清楚"]  # help said before does not count
    assert said(m, "我不清楚，那个，我帮您问一下") == ["我不清楚"]  # two clauses on: too late (help_clauses 1)
    assert said(toned("我不清楚", help=True, help_clauses=2), "我不清楚，那个，我帮您问一下") == []


def test_clause_start_and_whole_clause():
    start, whole = toned("不行", clause="start"), toned("不行", clause="whole")
    assert said(whole, "不行！") == ["不行"] and said(whole, "喂，哎不行啊") == ["不行"]
    assert said(whole, "不行的话我帮您换一个") == [] and said(whole, "那不行") == []
    assert said(start, "不行的话我帮您换一个") == ["不行"] and said(start, "那不行") == []


def test_each_phrase_taken_back_says_why():
    """What `qcpipe rules test` shows a center tuning the tone lists."""
    def why(m: PhraseMatcher, text: str) -> list[tuple[str, str]]:
        heard = m.heard([(0, text)])
        return [(heard.chars[t.match.start:t.match.end], t.why) for t in m.taken_back(heard)]

    assert why(toned("大声点", polite=True), "请您大声点") == [("大声点", "a polite request (请 before it)")]
    assert why(toned("大声点", polite=True), "您说话大声点好吗") == [("大声点", "a polite request (好吗 after it)")]
    assert why(toned("我不清楚", help=True), "我不清楚，我帮您问一下") == [("我不清楚", "an offer of help follows (帮您问)")]
    assert why(toned("不行", clause="whole"), "不行的话我帮您换一个") == [("不行", "not the whole clause")]
    assert why(toned("不行", clause="start"), "那不行") == [("不行", "not at the start of its clause")]
    assert why(toned("大声点", polite=True), "请您大声点，大声点！") == []  # it counts in the second clause
    allowed = PhraseMatcher([Phrase("不好意思", ("不好意思",), unless_within=("不好意思我是新手",))], SETTINGS,
                            PinyinCoder(EQUIVALENTS))
    assert why(allowed, "不好意思，我是新手") == [("不好意思", "inside the allowed wording 不好意思我是新手")]


def test_a_whole_clause_may_span_two_segments_of_a_turn():
    m = toned("(你)?明天再打过来", clause="whole")
    assert said(m, "你明天", "再打过来吧") == ["你明天再打过来"]
    assert said(m, "请你明天", "再打过来") == []


def test_the_memo_keeps_texts_that_differ_only_in_punctuation_apart():
    m = toned("不行", clause="whole")
    assert said(m, "不行，的话") == ["不行"]
    assert said(m, "不行的话") == []
    assert said(m, "不行，的话") == ["不行"]


def test_a_gap_holds_the_middle_of_a_clause():
    m = matcher("你连…都不会")
    assert said(m, "你连这么简单的操作都不会啊。") == ["你连这么简单的操作都不会"]
    assert said(m, "你连都不会") == ["你连都不会"]  # an empty middle
    assert said(m, "你连这个，我们都不会收费") == []  # the parts in two clauses
    assert said(m, "都不会，你连") == []  # out of order
    assert said(m, "你连一二三四五六七八九十一都不会") == []  # more than GAP_CHARS between


def test_a_gapped_part_of_three_characters_may_be_a_homophone_a_shorter_one_must_be_exact():
    m = matcher("你连…都不会")
    assert find(m, "你连这个都不回") == [("你连…都不会", MatchKind.PINYIN, "你连这个都不回")]
    assert said(matcher("你…都不会"), "我们哪里都不会去") == []  # 里 folds to 你 (n/l) but 1 char is exact only


def test_a_gapped_hit_is_judged_by_its_clause_like_any_other():
    m = toned("我…处理不了", help=True)
    assert said(m, "我这边处理不了，你等通知吧") == ["我这边处理不了"]
    assert said(m, "我这边处理不了，我帮您查一下") == []
