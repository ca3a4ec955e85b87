"""Script normalisation, the hallucination filter and the mark of a decoding loop."""

import pytest

from qcpipe.asr.text import is_hallucination, loops, spoken_length, to_simplified


@pytest.mark.parametrize(
    "traditional,simplified",
    [
        ("感謝您的來電，祝您生活愉快，再見！", "感谢您的来电，祝您生活愉快，再见！"),
        ("我們服務不周給您添麻煩了", "我们服务不周给您添麻烦了"),
        ("請您稍等，我幫您查詢一下", "请您稍等，我帮您查询一下"),
        ("已经是简体", "已经是简体"),
    ],
)
def test_traditional_becomes_simplified(traditional: str, simplified: str) -> None:
    assert to_simplified(traditional) == simplified


@pytest.mark.parametrize(
    "text",
    [
        "字幕由Amara.org社区提供",
        "請不吝點贊 訂閱 轉發 打賞支持明鏡與點點欄目",
        "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
        "中文字幕志愿者 杨茜茜",
        "谢谢观看",
        "感谢收看",
        "优优独播剧场——YoYo Television Series Exclusive",
    ],
)
def test_known_whisper_hallucinations_are_recognised(text: str) -> None:
    assert is_hallucination(text)


@pytest.mark.parametrize(
    "text",
    [
        "感谢您的来电，再见",
        "我想取消这个订阅服务",  # a customer may really talk about a subscription
        "请您稍等",
        "谢谢",
        "",
    ],
)
def test_real_call_speech_is_kept(text: str) -> None:
    assert not is_hallucination(text)


@pytest.mark.parametrize(
    "text",
    [
        "请您提供一下保单号。请您提供一下保单号。请您提供一下保单号。",  # a line from earlier, over and over
        "收藏,请您收藏,我帮您收藏,我帮您收藏,",
        "一下保单号,请您提供一下保单号,请您提供",  # the repeat need not start at a sentence
    ],
)
def test_a_line_said_twice_in_a_row_is_a_loop(text: str) -> None:
    assert loops(text)


@pytest.mark.parametrize(
    "text",
    [
        "好的好的，对对对，嗯嗯",  # people repeat short words
        "喂，您好，喂，您好",
        "感谢您的来电，祝您生活愉快，再见！",
        "请您提供一下保单号。好的，保单号是多少？",  # the same words again, but not back to back
        "",
    ],
)
def test_ordinary_speech_is_no_loop(text: str) -> None:
    assert not loops(text)


def test_spoken_length_leaves_out_punctuation_and_spaces() -> None:
    assert spoken_length("好的， 请稍等。") == 5
