"""Whisper's sequential decoding with a greedy first pass, the beam only where it is unsure.

On a CPU, beam search (5 hypotheses) is about 40 % of a call's time (scripts/profile_stages.py),
and where a greedy reading differs from the beam's it is often one the model was unsure of. So
each window may be decoded greedily first, and again as Whisper does (the beam, then its
temperature fallback) only where that reading is unsure:

- its average log-probability per token is under `sure_log_prob`;
- its text repeats itself (compression ratio over the options' threshold, Whisper's 2.4): a loop;
- the decoder takes the window for silence (no-speech probability over the options'
  threshold), which voice activity has already said it is not.

Both passes read the one encoding of the window. Only Whisper's sequential decoding (the CPU
path) has the first pass; batched decoding (the GPU path) decodes with the beam throughout.
Off by default (`AsrOptions.greedy_first_pass`): Whisper base is unsure of most windows, so the
pass saved little on the dev corpus for what it cost in hearing (scripts/bench_asr.py,
`qcpipe-first`).
"""

from __future__ import annotations

import dataclasses
import threading

from faster_whisper.transcribe import TranscriptionOptions

from qcpipe.asr.encoder import SpeechLengthWhisper


class GreedyFirstWhisper(SpeechLengthWhisper):
    """A `SpeechLengthWhisper` that decodes a window greedily first (see the module docstring);
    `sure_log_prob` None decodes every window as Whisper does."""

    def __init__(self, *args, sure_log_prob: float | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sure_log_prob = sure_log_prob
        self.windows = self.decoded_again = 0  # windows decoded, and of them decoded again with the beam
        self._count_lock = threading.Lock()

    def generate_with_fallback(self, encoder_output, prompt, tokenizer, options: TranscriptionOptions):
        if self.sure_log_prob is None or options.beam_size <= 1 or not options.temperatures:
            return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
        greedy = dataclasses.replace(options, beam_size=1, temperatures=[0.0])
        first = super().generate_with_fallback(encoder_output, prompt, tokenizer, greedy)
        sure = is_sure(first, options, self.sure_log_prob)
        with self._count_lock:
            self.windows += 1
            self.decoded_again += not sure
        return first if sure else super().generate_with_fallback(encoder_output, prompt, tokenizer, options)


def is_sure(decoded: tuple, options: TranscriptionOptions, sure_log_prob: float) -> bool:
    """Whether a greedy reading ((result, average log-probability per token, temperature,
    compression ratio), as `WhisperModel.generate_with_fallback` returns it) is kept rather
    than decoded again with the beam."""
    result, avg_log_prob, _temperature, compression_ratio = decoded
    if avg_log_prob < sure_log_prob:
        return False
    if options.compression_ratio_threshold is not None and compression_ratio > options.compression_ratio_threshold:
        return False
    return options.no_speech_threshold is None or result.no_speech_prob <= options.no_speech_threshold
