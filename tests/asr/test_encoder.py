"""The encoder sees a window's own audio plus a little padding, not 30 s of it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace

import numpy as np
import pytest
from faster_whisper.audio import pad_or_trim
from faster_whisper.transcribe import get_ctranslate2_storage
from rapidfuzz.distance import Levenshtein

from qcpipe.asr import load_audio
from qcpipe.asr.encoder import SpeechLengthWhisper, without_padding
from qcpipe.asr.transcriber import Transcriber
from qcpipe.config import default_models_dir


def _window(heard_frames: int, n_mels: int = 80) -> np.ndarray:
    """Mel features as faster-whisper hands them to the encoder: `heard_frames` of a recording
    (never exactly zero), padded with zeros to 3000 frames."""
    rng = np.random.default_rng(heard_frames)
    return pad_or_trim(rng.uniform(-1.5, 1.0, (n_mels, heard_frames)).astype(np.float32))


def test_the_padding_after_the_window_is_cut_to_the_asked_length() -> None:
    features = _window(731)
    kept = without_padding(features, padding_s=1.0)
    assert kept.shape == (80, 832)  # 731 heard + 100 padding, rounded up to an even count
    np.testing.assert_array_equal(kept, features[:, :832])


def test_a_recording_frame_that_is_quiet_is_kept_only_exact_zeros_are_padding() -> None:
    features = _window(500)
    features[:, 400:500] = -1.5  # digital silence inside the recording, as Whisper's log-mel writes it
    features[3, 499] = 0.0  # one bin exactly zero is still a recorded frame
    assert without_padding(features, padding_s=0.0).shape == (80, 500)


def test_a_full_window_or_whispers_own_padding_is_left_as_it_is() -> None:
    full = _window(3000)
    assert without_padding(full, padding_s=1.0) is full
    short = _window(200)
    assert without_padding(short, padding_s=30.0) is short


def test_a_batch_keeps_its_longest_window() -> None:
    batch = np.stack([_window(300), _window(1200), _window(40)])
    assert without_padding(batch, padding_s=0.5).shape == (3, 80, 1250)


def test_an_empty_window_keeps_only_padding() -> None:
    assert without_padding(np.zeros((80, 3000), np.float32), padding_s=0.0).shape == (80, 2)


@pytest.mark.parametrize("padding_s", [0.0, 0.5, 1.0])
def test_a_window_is_never_cut_to_twice_as_many_frames_as_it_has_mel_bands(padding_s: float) -> None:
    for n_mels in (80, 128):  # Whisper base's, large-v3's
        lengths = {without_padding(_window(heard, n_mels), padding_s).shape[-1] for heard in range(100, 300)}
        assert 2 * n_mels not in lengths, n_mels


@pytest.mark.asr
def test_a_window_cut_near_its_speech_is_aligned_as_its_features_are(transcriber, monkeypatch) -> None:
    """CTranslate2 tells an encoding from features by its shape alone: an encoding 80 frames long
    (of 160 frames of features) looks like Whisper base's 80 mel bands, and was encoded again."""
    model = transcriber._model
    monkeypatch.setattr(model, "padding_s", 0.0)
    start, text = transcriber._tokenizer.sot_sequence, [[100, 200, 300]]
    for heard in (158, 159, 160):
        window = _window(heard)[np.newaxis]
        encoding = model.encode(window)
        from_encoding = model.model.align(encoding, start, text, [heard])[0]
        cut = get_ctranslate2_storage(window[..., :2 * encoding.shape[1]])
        from_features = model.model.align(cut, start, text, [heard])[0]
        assert from_encoding.text_token_probs == from_features.text_token_probs, f"{heard} frames heard"


@pytest.mark.asr
def test_a_short_call_is_encoded_at_its_length_and_heard_as_with_30_s(transcriber, dev_corpus, monkeypatch) -> None:
    """D110001's parties each speak under 30 s: each one's window is encoded well short of
    3000 frames, and the words heard are those heard with Whisper's full padding."""
    encoded: list[int] = []
    encode = SpeechLengthWhisper.encode

    def noting_frames(model: SpeechLengthWhisper, features: np.ndarray):
        output = encode(model, features)
        encoded.append(int(output.shape[1]) * 2)  # the encoder halves the frames
        return output

    monkeypatch.setattr(SpeechLengthWhisper, "encode", noting_frames)
    audio = load_audio(dev_corpus / "audio" / "D110001.wav")
    heard, frames = {}, {}
    for padding_s in (1.0, 30.0):
        model = Transcriber(replace(transcriber.options, encode_padding_s=padding_s), default_models_dir())
        encoded.clear()
        heard[padding_s] = "".join(s.text for s in model.transcribe(audio).segments)
        frames[padding_s] = list(encoded)
    assert frames[30.0] and all(n == 3000 for n in frames[30.0])
    assert frames[1.0] and all(n < 2500 for n in frames[1.0])
    assert Levenshtein.normalized_similarity(heard[1.0], heard[30.0]) > 0.9


def test_whispers_own_padding_keeps_the_fingerprints_transcripts_were_stored_with() -> None:
    """A call stored before the setting existed is not transcribed again for it; a shorter
    padding hears differently, so it is another fingerprint."""
    from qcpipe.asr.types import AsrOptions

    before = hashlib.sha256(json.dumps(
        {k: v for k, v in asdict(AsrOptions()).items() if k not in ("device", "batch_size", "gpu_decoders",
                                                                   "gpu_batch_min_windows", "encode_padding_s",
                                                                   "restrict_vocabulary", "script_phrases",
                                                                   "greedy_first_pass", "sure_log_prob")},
        sort_keys=True).encode()).hexdigest()[:16]
    full = AsrOptions(restrict_vocabulary=False)  # as transcripts were made before that setting too
    assert full.fingerprint() == replace(full, encode_padding_s=30).fingerprint() == before
    assert replace(full, gpu_decoders=1).fingerprint() == before  # how many decode at once, not what
    assert replace(full, gpu_batch_min_windows=8).fingerprint() == before
    assert replace(full, encode_padding_s=2).fingerprint() != before
