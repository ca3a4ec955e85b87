"""A Whisper model whose decoder scores only the tokens Chinese transcripts are written with.

Whisper's decoder ends every step by projecting its state onto all 51,865 tokens of its
multilingual vocabulary, once per beam, and then normalising and ranking them. On a CPU with
beam 5 that projection is a large share of each step. Most of those tokens are words of other
scripts (Latin words, Cyrillic, Arabic, accented Latin) that a Mandarin call never needs: on
the Chinese side the vocabulary has 1,330 whole Han tokens, 1,063 byte pieces (most Han
characters are written as two or three of them) and the digits and punctuation.

`restricted_model_files` builds, in memory, the same model with a smaller output vocabulary:
every special and timestamp token, every token of Han characters, CJK and full-width
punctuation, every byte piece, digits, ASCII punctuation, and ASCII words of up to three
letters, so that any Latin word (an app's name, a postcode) can still be spelled. That is
12,625 tokens of 51,865. The decoder's layers and the encoder are untouched; only the
embedding matrix (which Whisper also uses as its output projection) loses rows.

It is not quite the full model with the other tokens suppressed: each step's probabilities
are normalised over the kept tokens only, so the beams (each losing a different share of its
probability) rank a little differently, and so does the temperature fallback's test of a
window's average log-probability. On the dev corpus 19 of 64 calls were heard differently
somewhere, by a character or a punctuation mark in most; the CER is the same (12.25 %
against 12.23 %, scripts/bench_asr.py --variants qcpipe,qcpipe-fullvocab).

Token ids change with the vocabulary. `RemappedTokenizer` gives faster-whisper the original
tokenizer under the new ids: text is encoded as before and each id mapped; a removed token
(only in a prompt or hotwords) is spelled with its bytes, each of which is kept.
"""

from __future__ import annotations

import io
import json
import mmap
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qcpipe.errors import ModelError

# Languages whose transcripts this restriction fits (Whisper's language codes).
RESTRICTABLE_LANGUAGES = ("zh", "yue")
_LONGEST_LATIN_WORD = 3
# CTranslate2's DataType codes (ctranslate2/types.h) as numpy types of the same size.
_NUMPY_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
# Variables whose rows are the output vocabulary (Whisper ties the projection to the embeddings).
_VOCABULARY_ROWS = ("decoder/embeddings/", "decoder/projection/")


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet (Whisper's tokenizer): the character that stands for each byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars)}


_BYTES = _byte_decoder()


def _is_chinese_text(char: str) -> bool:
    return ("\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"  # Han
            or "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef")  # CJK and full-width punctuation


def keeps_token(token: str) -> bool:
    """Whether a Chinese transcript may need `token` (a vocabulary entry in byte-level form)."""
    if token.startswith("<|") and token.endswith("|>"):
        return True  # special and timestamp tokens
    try:
        raw = bytes(_BYTES[char] for char in token)
    except KeyError:
        return True  # not a byte-level token: leave it alone
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True  # a piece of a character: most Han characters are written with them
    if not all(_is_chinese_text(char) or char.isascii() for char in text):
        return False  # another script
    latin = text.strip()
    if not any(char.isascii() and char.isalpha() for char in latin):
        return True  # Han, digits, punctuation, spaces
    return all(char.isascii() for char in latin) and len(latin) <= _LONGEST_LATIN_WORD


def kept_token_ids(vocabulary: Sequence[str]) -> list[int]:
    """Ids (in order) of the tokens a restricted model keeps."""
    return [index for index, token in enumerate(vocabulary) if keeps_token(token)]


def _read_vocabulary(model_dir: Path) -> list[str]:
    text_file, json_file = model_dir / "vocabulary.txt", model_dir / "vocabulary.json"
    if text_file.is_file():
        return text_file.read_text(encoding="utf-8").rstrip("\n").split("\n")  # one token a line
    if json_file.is_file():
        return json.loads(json_file.read_text(encoding="utf-8"))
    raise ModelError(f"{model_dir}: no vocabulary.txt or vocabulary.json to restrict")


def _restricted_weights(model_bin: Path, kept: np.ndarray, vocabulary_size: int) -> io.BytesIO:
    """model.bin (CTranslate2 format, version 5 or later) with the vocabulary rows cut to `kept`."""
    with open(model_bin, "rb") as source, mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        try:
            return _cut_vocabulary_rows(view, model_bin, kept, vocabulary_size)
        finally:
            view.release()  # an error's traceback still holds it; the map cannot close otherwise


def _cut_vocabulary_rows(data: memoryview, model_bin: Path, kept: np.ndarray, vocabulary_size: int) -> io.BytesIO:
    out = io.BytesIO()
    offset = 0

    def take(size: int) -> bytes:
        nonlocal offset
        chunk = bytes(data[offset:offset + size])
        if len(chunk) != size:
            raise ModelError(f"{model_bin}: truncated at byte {offset}")
        offset += size
        return chunk

    def take_string() -> tuple[bytes, str]:
        raw_length = take(2)
        body = take(struct.unpack("<H", raw_length)[0])
        return raw_length + body, body.rstrip(b"\0").decode()

    version_raw = take(4)
    (version,) = struct.unpack("<I", version_raw)
    if version < 5:
        raise ModelError(f"{model_bin}: CTranslate2 model format {version} is too old to restrict (5 or later)")
    out.write(version_raw)
    out.write(take_string()[0])  # the model spec's name
    out.write(take(4))  # its revision
    count_raw = take(4)
    out.write(count_raw)
    cut = 0
    for _ in range(struct.unpack("<I", count_raw)[0]):
        name_raw, name = take_string()
        (rank,) = struct.unpack("<B", take(1))
        shape = struct.unpack(f"<{rank}I", take(4 * rank))
        (dtype,) = struct.unpack("<B", take(1))
        (size,) = struct.unpack("<I", take(4))
        values = take(size)
        if name.startswith(_VOCABULARY_ROWS) and rank >= 1 and shape[0] == vocabulary_size:
            if dtype not in _NUMPY_DTYPES:
                raise ModelError(f"{model_bin}: {name} has an unknown data type {dtype}")
            rows = np.frombuffer(values, dtype=_NUMPY_DTYPES[dtype]).reshape(shape)[kept]
            shape, values, size = rows.shape, rows.tobytes(), rows.nbytes
            cut += 1
        out.write(name_raw)
        out.write(struct.pack(f"<B{rank}IBI", rank, *shape, dtype, size))
        out.write(values)
    if not cut:
        raise ModelError(f"{model_bin}: no decoder embedding of {vocabulary_size} rows to restrict")
    out.write(data[offset:])  # aliases (the projection is the embeddings) and anything after
    out.seek(0)
    return out


def restricted_model_files(model_dir: Path) -> tuple[dict[str, bytes | io.BytesIO], list[int]]:
    """The files of `model_dir`'s model with a Chinese output vocabulary, for
    `WhisperModel(files=...)`, and the original id of each kept token (new id = position)."""
    vocabulary = _read_vocabulary(model_dir)
    kept = kept_token_ids(vocabulary)
    position = {old: new for new, old in enumerate(kept)}
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    for key in ("lang_ids", "suppress_ids", "suppress_ids_begin"):
        if key in config:
            config[key] = [position[token] for token in config[key] if token in position]
    files = {
        "model.bin": _restricted_weights(model_dir / "model.bin", np.asarray(kept), len(vocabulary)),
        "config.json": json.dumps(config).encode(),
        "vocabulary.txt": "".join(vocabulary[index] + "\n" for index in kept).encode("utf-8"),
        "tokenizer.json": (model_dir / "tokenizer.json").read_bytes(),
    }
    preprocessor = model_dir / "preprocessor_config.json"
    if preprocessor.is_file():
        files["preprocessor_config.json"] = preprocessor.read_bytes()
    return files, kept


class _Encoding:
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids


class RemappedTokenizer:
    """A `tokenizers.Tokenizer` speaking a restricted model's token ids (see the module doc)."""

    def __init__(self, tokenizer, kept: Sequence[int]) -> None:
        self._tokenizer = tokenizer
        self._original = list(kept)
        self._position = {old: new for new, old in enumerate(kept)}

    def _restricted_ids(self, ids: Sequence[int]) -> list[int]:
        out: list[int] = []
        for token_id in ids:
            new = self._position.get(token_id)
            if new is not None:
                out.append(new)
            else:  # a removed token, spelled with its bytes' own tokens (all kept)
                out.extend(self._position[self._tokenizer.token_to_id(char)]
                           for char in self._tokenizer.id_to_token(token_id))
        return out

    def token_to_id(self, token: str) -> int | None:
        token_id = self._tokenizer.token_to_id(token)
        return None if token_id is None else self._position.get(token_id)

    def id_to_token(self, token_id: int) -> str | None:
        return self._tokenizer.id_to_token(self._original[token_id])

    def encode(self, text: str, add_special_tokens: bool = True) -> _Encoding:
        encoding = self._tokenizer.encode(text, add_special_tokens=add_special_tokens)
        return _Encoding(self._restricted_ids(encoding.ids))

    def decode(self, ids: Sequence[int], **options) -> str:
        return self._tokenizer.decode([self._original[token_id] for token_id in ids], **options)

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        return len(self._original)

    def non_speech_tokens(self) -> list[int]:
        """The symbols Whisper keeps out of transcripts (faster-whisper's `suppress_tokens=[-1]`),
        as the full vocabulary finds them, under the new ids. Found through this tokenizer, a
        symbol that was one removed token would be spelled with byte pieces, and the first of
        them (the lead byte of “ ” …, or the space) suppressed in its place."""
        from faster_whisper.tokenizer import Tokenizer

        full = Tokenizer(self._tokenizer, multilingual=True, task="transcribe", language="zh")
        return sorted(self._position[token] for token in full.non_speech_tokens if token in self._position)
