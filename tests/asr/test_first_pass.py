"""A greedy first pass over each window; the beam again only where that reading is unsure."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from qcpipe.asr import load_audio
from qcpipe.asr.first_pass import GreedyFirstWhisper, is_sure
from qcpipe.asr.transcriber import Transcriber
from qcpipe.asr.types import AsrOptions
from qcpipe.config import default_models_dir

WHISPERS_CHECKS = SimpleNamespace(compression_ratio_threshold=2.4, no_speech_threshold=0.6)


def _reading(avg_log_prob: float, compression_ratio: float = 1.4, no_speech_prob: float = 0.02) -> tuple:
    """A greedy reading as `generate_with_fallback` returns it."""
    return SimpleNamespace(no_speech_prob=no_speech_prob), avg_log_prob, 0.0, compression_ratio


def test_a_likely_reading_is_kept_an_unlikely_one_is_not() -> None:
    assert is_sure(_reading(-0.2), WHISPERS_CHECKS, -0.5)
    assert is_sure(_reading(-0.5), WHISPERS_CHECKS, -0.5)
    assert not is_sure(_reading(-0.51), WHISPERS_CHECKS, -0.5)


def test_a_reading_that_loops_or_is_taken_for_silence_is_unsure_however_likely() -> None:
    assert not is_sure(_reading(-0.1, compression_ratio=3.1), WHISPERS_CHECKS, -0.5)
    assert not is_sure(_reading(-0.1, no_speech_prob=0.9), WHISPERS_CHECKS, -0.5)


def test_with_whispers_checks_turned_off_only_the_likelihood_counts() -> None:
    off = SimpleNamespace(compression_ratio_threshold=None, no_speech_threshold=None)
    assert is_sure(_reading(-0.1, compression_ratio=3.1, no_speech_prob=0.9), off, -0.5)
    assert not is_sure(_reading(-0.9), off, -0.5)


def test_the_first_pass_is_a_setting_of_its_own_and_off_keeps_the_stored_fingerprints() -> None:
    """Off, a transcript is made as before the setting existed, under the same fingerprint; on,
    and at each line, it may read differently."""
    plain = AsrOptions()
    assert replace(plain, sure_log_prob=-0.9).fingerprint() == plain.fingerprint()
    first = replace(plain, greedy_first_pass=True)
    assert first.fingerprint() != plain.fingerprint()
    assert replace(first, sure_log_prob=-0.9).fingerprint() != first.fingerprint()


def _heard(options: AsrOptions, audio) -> tuple[str, GreedyFirstWhisper]:
    transcriber = Transcriber(options, default_models_dir())
    text = "".join(segment.text for segment in transcriber.transcribe(audio).segments)
    return text, transcriber._model


@pytest.mark.asr
def test_no_reading_sure_every_window_is_decoded_again_and_heard_as_the_beam_hears_it(
        transcriber, dev_corpus) -> None:
    audio = load_audio(dev_corpus / "audio" / "D110001.wav")
    beam, _ = _heard(transcriber.options, audio)
    again, model = _heard(replace(transcriber.options, greedy_first_pass=True, sure_log_prob=0.0), audio)
    assert model.windows > 0 and model.decoded_again == model.windows
    assert again == beam


@pytest.mark.asr
def test_every_reading_sure_no_window_is_decoded_again_and_heard_as_greedy_decoding_hears_it(
        transcriber, dev_corpus) -> None:
    audio = load_audio(dev_corpus / "audio" / "D110001.wav")
    greedy, _ = _heard(replace(transcriber.options, beam_size=1), audio)
    kept, model = _heard(replace(transcriber.options, greedy_first_pass=True, sure_log_prob=-100.0), audio)
    assert model.windows > 0 and model.decoded_again == 0
    assert kept == greedy
