"""PII masking: phone, ID-card and bank-card numbers as ASR writes them are hidden; evidence is not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from qcpipe.asr.types import AsrOptions, Role, Segment, SpeechRegion, Transcript, Word
from qcpipe.config import PrivacySettings
from qcpipe.ingest import CallSource
from qcpipe.pipeline import run_batch
from qcpipe.privacy import mask_dialogue, mask_segments, mask_text, mask_transcript
from qcpipe.store import repository as repo
from tests.helpers.cli import qcpipe

DEFAULT = PrivacySettings()

MASKED = [
    ("我的手机号是13812345678，谢谢", "我的手机号是***********，谢谢"),
    ("一三八一二三四五六七八", "＊＊＊＊＊＊＊＊＊＊＊"),
    ("号码是幺三八幺二三四五六七八", "号码是＊＊＊＊＊＊＊＊＊＊＊"),
    ("幺三八 幺二三四 五六七八", "＊＊＊ ＊＊＊＊ ＊＊＊＊"),
    ("138-1234-5678", "***-****-****"),
    ("一五九两三四五六七八九", "＊＊＊＊＊＊＊＊＊＊＊"),  # 两 for 2
    ("+86 138 1234 5678", "+** *** **** ****"),
    ("座机010-62345678", "座机***-********"),
    ("零五七一 八八八八六六六六", "＊＊＊＊ ＊＊＊＊＊＊＊＊"),  # landline with area code, spoken
    ("身份证11010519491231002X", "身份证******************"),
    ("身份证110105194912310021。", "身份证******************。"),
    ("一一零一零五一九四九一二三一零零二叉", "＊" * 18),  # X said as 叉
    ("老身份证110105491231002", "老身份证***************"),
    ("卡号6222021234567890123", "卡号*******************"),
    ("卡号 6222 0212 3456 7890", "卡号 **** **** **** ****"),
    ("卡号六二二二零二一二三四五六七八九零", "卡号" + "＊" * 16),
    ("１３８１２３４５６７８", "***********"),  # full-width digits
]

KEPT = [
    "订单号是七七八九零一二。",  # 7-digit order number: evidence, not personal
    "保单号是二零二六零八一五。",  # 8-digit policy number
    "座机六二三四五六七八",  # a landline without area code has an order number's length
    "二零二六年十一月八日",  # a date
    "一共是一千三百八十元",  # an amount in words
    "金额13812345678元",  # an amount in digits, however long
    "¥13812345678",
    "13812345678.50",
    "工号1007为您服务",
    "尾号是六六零七的卡",  # last four digits of a card
    "运单号SF1234567890123",  # a code glued to letters
    "一一核对一下",
    "12345678901",  # 11 digits but not a mobile prefix
]


@pytest.mark.parametrize(("heard", "shown"), MASKED)
def test_personal_numbers_are_masked_keeping_length(heard: str, shown: str) -> None:
    assert mask_text(heard, DEFAULT) == shown
    assert len(mask_text(heard, DEFAULT)) == len(heard)


@pytest.mark.parametrize("heard", KEPT)
def test_near_misses_are_kept(heard: str) -> None:
    assert mask_text(heard, DEFAULT) == heard


def test_each_kind_is_switched_on_its_own() -> None:
    text = "电话13812345678 身份证11010519491231002X 卡号6222021234567890"
    assert mask_text(text, PrivacySettings(mask_phone=False)) == "电话13812345678 身份证****************** 卡号****************"
    assert mask_text(text, PrivacySettings(mask_id_card=False)) == "电话*********** 身份证11010519491231002X 卡号****************"
    assert mask_text(text, PrivacySettings(mask_bank_card=False)) == "电话*********** 身份证****************** 卡号6222021234567890"
    assert mask_text(text, PrivacySettings(False, False, False)) == text


def test_a_number_read_across_utterances_is_masked_whole() -> None:
    customer_reads = [(1, 10.0, 11.5, "我的电话是一三八"), (0, 11.6, 12.0, "好的"), (1, 12.4, 13.3, "一二三四"), (1, 14.0, 15.2, "五六七八")]
    assert mask_dialogue(customer_reads, DEFAULT) == ["我的电话是＊＊＊", "好的", "＊＊＊＊", "＊＊＊＊"]
    # the same digits from two speakers, or after a long pause, are two short numbers: kept
    two_speakers = [(1, 10.0, 11.0, "一三八一二三四"), (0, 11.2, 12.0, "五六七八")]
    assert mask_dialogue(two_speakers, DEFAULT) == ["一三八一二三四", "五六七八"]
    long_pause = [(1, 10.0, 11.0, "一三八一二三四"), (1, 20.0, 21.0, "五六七八")]
    assert mask_dialogue(long_pause, DEFAULT) == ["一三八一二三四", "五六七八"]


def _segment(channel: int, role: Role, start: float, tokens: list[str]) -> Segment:
    words = tuple(Word(t, start + 0.3 * i, start + 0.3 * (i + 1), 0.9) for i, t in enumerate(tokens))
    return Segment(channel, role, start, words[-1].end, "".join(tokens), 0.9, words)


def _transcript() -> Transcript:
    segments = (
        _segment(0, Role.AGENT, 0.5, ["您好", "请问", "您的", "手机号"]),
        _segment(1, Role.CUSTOMER, 2.0, ["一三", "八一二", "三四"]),
        _segment(1, Role.CUSTOMER, 3.5, ["五六", "七八", "，订单号", "七七八九零一二"]),
        _segment(0, Role.AGENT, 6.5, ["好的", "身份证", "110105194912310021", "已核对"]),
    )
    speech = tuple(SpeechRegion(s.channel, s.role, s.start, s.end) for s in segments)
    return Transcript(segments, speech, duration=9.0, channels=2, roles_known=True, options=AsrOptions())


def test_words_are_masked_like_their_utterance_and_times_still_align() -> None:
    heard = _transcript()
    masked = mask_transcript(heard, DEFAULT)
    texts = [s.text for s in masked.segments]
    assert texts == ["您好请问您的手机号", "＊＊＊＊＊＊＊", "＊＊＊＊，订单号七七八九零一二", "好的身份证******************已核对"]
    for before, after in zip(heard.segments, masked.segments):
        assert "".join(w.text for w in after.words) == after.text
        assert [(w.start, w.end, len(w.text)) for w in after.words] == [(w.start, w.end, len(w.text)) for w in before.words]
        assert after.char_times() == before.char_times()
    assert mask_segments(heard.segments, PrivacySettings(False, False, False)) == heard.segments


class _HandTranscriber:
    """Stands in for Whisper: hands back a transcript written by hand (no ASR in these tests)."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    def transcribe(self, audio, channel_map) -> Transcript:  # noqa: ARG002
        return self.transcript


def _store(tmp_path: Path, db, privacy: PrivacySettings) -> None:
    audio = tmp_path / "P0001.wav"
    soundfile.write(str(audio), np.zeros((9 * 8000, 2), dtype=np.float32), 8000)
    summary = run_batch(
        [CallSource("P0001", audio, agent_id="A01")], db, lambda: _HandTranscriber(_transcript()),
        asr_fingerprint=AsrOptions().fingerprint(), privacy=privacy,
    )
    assert summary.done == 1, summary.failures


def _stored_texts(db) -> list[str]:
    with db.session() as session:
        call = repo.load_call(session, "P0001")
        for seg in call.segments:
            assert "".join(w[0] for w in seg.words) == seg.text
        return [seg.text for seg in call.segments]


def test_the_stored_transcript_is_masked_by_default(db, tmp_path: Path) -> None:
    _store(tmp_path, db, PrivacySettings())
    assert _stored_texts(db) == [s.text for s in mask_transcript(_transcript(), DEFAULT).segments]
    assert not any("三四" in text or "110105" in text for text in _stored_texts(db))


def test_the_heard_text_is_stored_when_the_center_opts_in(db, tmp_path: Path) -> None:
    _store(tmp_path, db, PrivacySettings(store_heard_text=True))
    assert _stored_texts(db) == [s.text for s in _transcript().segments]


def test_transcript_and_export_mask_what_an_opted_in_store_holds(db, tmp_path: Path) -> None:
    _store(tmp_path, db, PrivacySettings(store_heard_text=True))
    shown = qcpipe("transcript", "P0001", "--db", db.url, home=tmp_path).stdout
    assert "＊＊＊＊＊＊＊" in shown and "******************" in shown and "七七八九零一二" in shown
    assert "一三八一二三四" not in shown and "110105" not in shown
    exported = qcpipe("export", "transcripts", "--db", db.url, home=tmp_path).stdout
    rows = [json.loads(line) for line in exported.splitlines()]
    assert [row["text"] for row in rows] == [s.text for s in mask_transcript(_transcript(), DEFAULT).segments]
    assert all("".join(w[0] for w in row["words"]) == row["text"] for row in rows)
