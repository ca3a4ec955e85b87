"""A restricted model decodes with the tokens Chinese is written with, under its own token ids."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest
import tokenizers
from rapidfuzz.distance import Levenshtein

from qcpipe.asr import load_audio
from qcpipe.asr.model import install_embedded_model
from qcpipe.asr.transcriber import Transcriber
from qcpipe.asr.types import AsrOptions
from qcpipe.asr.vocabulary import RemappedTokenizer, keeps_token, kept_token_ids, restricted_model_files
from qcpipe.config import default_models_dir
from qcpipe.errors import ModelError


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return install_embedded_model(default_models_dir())


@pytest.fixture(scope="module")
def vocabulary(model_dir: Path) -> list[str]:
    return (model_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]


@pytest.fixture(scope="module")
def restricted(model_dir: Path) -> tuple[dict[str, bytes], list[int]]:
    return restricted_model_files(model_dir)


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path, restricted) -> RemappedTokenizer:
    return RemappedTokenizer(tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json")), restricted[1])


def _byte_level(text: str) -> str:
    """`text` as Whisper's vocabulary writes it (GPT-2's byte-level characters)."""
    from qcpipe.asr.vocabulary import _BYTES

    char_of = {byte: char for char, byte in _BYTES.items()}
    return "".join(char_of[byte] for byte in text.encode("utf-8"))


@pytest.mark.parametrize("text", ["您好", "，", "。", "１", "123", " 42", "OK", " APP", "?", " "])
def test_chinese_digits_punctuation_and_short_latin_are_kept(text: str) -> None:
    assert keeps_token(_byte_level(text))


@pytest.mark.parametrize("text", [" hello", "tion", " Привет", "é", "こんにちは", "안녕"])
def test_words_of_other_scripts_are_dropped(text: str) -> None:
    assert not keeps_token(_byte_level(text))


def test_byte_pieces_and_special_tokens_are_kept() -> None:
    assert keeps_token(_byte_level("您")[:2])  # two of the character's three bytes
    assert keeps_token("<|zh|>") and keeps_token("<|notimestamps|>") and keeps_token("<|12.34|>")


def test_the_embedded_vocabulary_keeps_every_byte_and_the_timestamps_in_order(vocabulary: list[str]) -> None:
    kept = kept_token_ids(vocabulary)
    assert len(vocabulary) == 51_865 and len(kept) == 12_625
    assert set(range(256)) <= set(kept)  # any text can still be spelled byte by byte
    words = [vocabulary[index] for index in kept]
    timestamps = words.index("<|notimestamps|>") + 1
    # CTranslate2 takes the token after <|notimestamps|> as 0.00 s and counts on from there.
    assert words[timestamps:timestamps + 1501] == [f"<|{n * 0.02:.2f}|>" for n in range(1501)]


def test_the_model_file_loses_only_vocabulary_rows(model_dir: Path, restricted) -> None:
    files, kept = restricted
    assert files["model.bin"].getbuffer().nbytes == (model_dir / "model.bin").stat().st_size - (51_865 - len(kept)) * 512 * 2
    vocabulary = files["vocabulary.txt"].decode("utf-8").split("\n")[:-1]
    assert len(vocabulary) == len(kept)
    config = json.loads(files["config.json"])
    original = json.loads((model_dir / "config.json").read_text())
    assert [vocabulary[token] for token in config["lang_ids"]][:2] == ["<|en|>", "<|zh|>"]
    assert len(config["lang_ids"]) == len(original["lang_ids"])
    assert [vocabulary[token] for token in config["suppress_ids_begin"]] == ["Ġ", "<|endoftext|>"]


def test_a_truncated_model_file_is_refused_naming_it(model_dir: Path, tmp_path: Path) -> None:
    for name in ("config.json", "vocabulary.txt", "tokenizer.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    with open(model_dir / "model.bin", "rb") as source:
        (tmp_path / "model.bin").write_bytes(source.read(5_000_000))
    with pytest.raises(ModelError, match=r"model\.bin: truncated"):
        restricted_model_files(tmp_path)
    (tmp_path / "model.bin").write_bytes(struct.pack("<I", 3))
    with pytest.raises(ModelError, match="format 3 is too old"):
        restricted_model_files(tmp_path)


def test_text_goes_through_the_new_ids_and_back(tokenizer: RemappedTokenizer, restricted) -> None:
    text = "您好，工号1024为您服务。OK, hello iPhone ПРИВЕТ"  # the last words are removed tokens, spelled
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    assert ids and max(ids) < len(restricted[1])
    assert tokenizer.decode(ids) == text
    assert tokenizer.id_to_token(tokenizer.token_to_id("<|zh|>")) == "<|zh|>"
    assert tokenizer.token_to_id(_byte_level(" hello")) is None  # not in the restricted model


def test_another_language_is_refused(model_dir: Path) -> None:
    with pytest.raises(ModelError, match="language 'en'"):
        Transcriber(AsrOptions(language="en", restrict_vocabulary=True), default_models_dir())


def test_the_restriction_is_part_of_the_fingerprint() -> None:
    """It hears a little differently, so transcripts made with the full vocabulary are not
    taken for its own."""
    assert AsrOptions().restrict_vocabulary
    assert AsrOptions().fingerprint() != AsrOptions(restrict_vocabulary=False).fingerprint()


@pytest.mark.asr
def test_a_call_decoded_with_the_restricted_vocabulary_is_heard_as_with_the_full_one(transcriber, dev_corpus) -> None:
    """Restricting the vocabulary suppresses the tokens of other scripts; on a Chinese call
    the words and their times are those of the full model."""
    audio = load_audio(dev_corpus / "audio" / "D110001.wav")
    assert transcriber.options.restrict_vocabulary
    full = Transcriber(replace(transcriber.options, restrict_vocabulary=False), default_models_dir())
    heard = transcriber.transcribe(audio).segments
    full = full.transcribe(audio).segments
    assert heard and Levenshtein.normalized_similarity(
        "".join(s.text for s in heard), "".join(s.text for s in full)) > 0.97
    assert [round(s.start, 1) for s in heard[:3]] == [round(s.start, 1) for s in full[:3]]


def test_the_symbols_kept_out_of_transcripts_are_the_full_models(model_dir: Path, tokenizer, restricted) -> None:
    """faster-whisper finds the symbols to suppress by encoding them; through the restricted
    ids a removed symbol would be spelled in byte pieces and its first byte (the space, or
    the lead byte of “ ” …) suppressed in its place."""
    from faster_whisper.tokenizer import Tokenizer

    full = Tokenizer(tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json")), True, "transcribe", "zh")
    kept = restricted[1]
    assert {kept[token] for token in tokenizer.non_speech_tokens()} == set(full.non_speech_tokens) & set(kept)
