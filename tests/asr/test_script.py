"""Which stretches of an utterance sound like a script phrase (`qcpipe.asr.script`)."""

from __future__ import annotations

from qcpipe.asr.script import heard_phrases, near_stretches
from qcpipe.asr.types import AsrOptions
from qcpipe.config import Settings
from qcpipe.pipeline import asr_options

CLOSING = ("感谢您的来电", "祝您生活愉快")


def test_a_misheard_closing_is_near_its_phrase() -> None:
    ((stretch,),) = near_stretches("展现您的来遍,再见!", CLOSING)
    assert (stretch.start, stretch.end, stretch.phrase) == (0, 6, "感谢您的来电")
    assert stretch.applied_to("展现您的来遍,再见!") == "感谢您的来电,再见!"
    assert 0.8 <= stretch.similarity < 1


def test_positions_count_punctuation_and_a_stretch_may_span_it() -> None:
    ((stretch,),) = near_stretches("好的,展现您的来遍再见", CLOSING)
    assert "好的,展现您的来遍再见"[stretch.start:stretch.end] == "展现您的来遍"
    ((across,),) = near_stretches("展现您,的来遍", CLOSING)
    assert across.applied_to("展现您,的来遍") == "感谢您的来电"


def test_a_phrase_said_as_written_or_nothing_like_it_gives_no_stretch() -> None:
    assert near_stretches("感谢您的来电,再见!", CLOSING) == []
    assert near_stretches("好了,就这样吧", CLOSING) == []
    assert near_stretches("", CLOSING) == []


def test_short_phrases_are_never_read_again() -> None:
    # 2-3 characters sound like too many things (您好 ~ 你好 ~ 与好)
    assert near_stretches("与好,欢迎致电", ("您好", "再见")) == []


def test_phrases_near_one_place_are_its_alternatives_closest_first() -> None:
    # 您就等了 sounds as much like 令您久等了 as like 让您久等了, which was said: the model picks
    (place,) = near_stretches("您就等了,好的", ("让您久等了", "令您久等了", "稍等片刻"))
    assert {s.phrase for s in place} == {"让您久等了", "令您久等了"}
    assert place[0].similarity >= place[1].similarity


def test_places_that_do_not_overlap_are_apart() -> None:
    places = near_stretches("展现您的来遍,祝您收获愉快", ("感谢您的来电", "祝您生活愉快"))
    assert sorted(place[0].phrase for place in places) == ["感谢您的来电", "祝您生活愉快"]


def test_ordinary_speech_near_a_phrase_by_chance_is_not_read_again() -> None:
    # 已经发火 (发货 misheard) is 0.74 from 已经记录 in sound: too far to be that phrase
    assert near_stretches("您的订单已经发火", ("已经记录",)) == []


def test_reading_nothing_again_keeps_the_fingerprint_and_a_script_is_part_of_it() -> None:
    """Transcripts stored before the setting read nothing again: they keep their fingerprint.
    A script changes what is written, so it is another fingerprint, whatever its order."""
    plain = AsrOptions()
    with_script = AsrOptions(script_phrases=CLOSING)
    assert plain.fingerprint() != with_script.fingerprint()
    assert with_script.fingerprint() == AsrOptions(script_phrases=CLOSING[::-1]).fingerprint()


def test_the_script_is_stored_with_a_call_by_count_and_digest() -> None:
    recorded = AsrOptions(script_phrases=CLOSING).recorded()
    assert recorded["script_phrases"].startswith("2 phrases, sha256 ")
    assert AsrOptions().recorded()["script_phrases"] == ()


def test_a_run_reads_its_rulebooks_script_again_unless_switched_off(rulebook) -> None:
    assert asr_options(Settings(device="cpu"), rulebook).script_phrases == rulebook.script_phrases()
    assert asr_options(Settings(device="cpu", reread_script=False), rulebook).script_phrases == ()
    assert asr_options(Settings(device="cpu")).script_phrases == ()


def test_where_a_phrase_was_heard_as_written_its_siblings_are_not_tried() -> None:
    siblings = ("请问有什么可以帮您", "请问有什么可以帮你", "有什么可以帮到您")
    assert near_stretches("您好,请问有什么可以帮您?", siblings) == []
    (place,) = near_stretches("您好,请问有什么可疑高民?", siblings)
    assert place[0].phrase == "请问有什么可以帮您"


def test_a_stretch_that_already_sounds_like_the_phrase_is_left_to_the_scoring_stage() -> None:
    # 来遍 for 来电, 可疑 for 可以: the scoring stage's pinyin matching takes these as said
    assert near_stretches("感谢您的来遍,再见", CLOSING) == []
    assert near_stretches("请问有什么可疑帮您", ("请问有什么可以帮您",)) == []


def test_phrases_heard_as_written_or_as_homophones() -> None:
    phrases = ("再见", "您好", "感谢您的来电", "让您久等了")
    found = heard_phrases("感谢您的来遍，在见！", phrases)
    assert [(h.phrase, "感谢您的来遍，在见！"[h.start:h.end]) for h in found] == [("感谢您的来电", "感谢您的来遍"),
                                                                               ("再见", "在见")]


def test_a_short_phrase_must_sound_exactly_alike() -> None:
    # one letter off is already 0.93 alike: 在家 (zai jia) is not 再见, 你好 is not 您好
    assert heard_phrases("在家吃饭,你好", ("再见", "您好")) == []
    assert heard_phrases("", ("再见",)) == []
