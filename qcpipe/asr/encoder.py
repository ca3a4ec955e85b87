"""Whisper that encodes a window at its own length, not padded to 30 s.

faster-whisper pads every window's mel features to Whisper's 30 s (3000 frames) before the
encoder sees them. qcpipe decodes packed speech: after voice activity detection a party's
window is often 5–20 s long, so most of what the encoder would work on is padding, and the
decoder then attends to all of it at every step of every beam. The encoder's cost grows
faster than its input (self-attention), so on one core with Whisper base int8 a 30 s window
takes 0.80 s to encode, 15 s 0.22 s and 10 s 0.09 s.

`SpeechLengthWhisper` encodes the window's audio plus `padding_s` of the padding, which tells
the decoder where the speech ends. The padding faster-whisper adds is exact zeros in every
mel bin, which a recorded frame never is (Whisper's log-mel is clamped 8 decades under the
loudest frame and shifted by 4, so even digital silence is non-zero), so it is found in the
features themselves and nothing else in the decoding changes. Measured on the dev
corpus with scripts/bench_asr.py (see `AsrOptions.encode_padding_s`).
"""

from __future__ import annotations

import numpy as np
from faster_whisper import WhisperModel

FRAMES_PER_S = 100  # Whisper's mel frames: 10 ms hop


def without_padding(features: np.ndarray, padding_s: float) -> np.ndarray:
    """The mel `features` ((n_mels, frames), or a batch of them) cut after the last frame with
    any energy, plus `padding_s` of the zero padding; an even number of frames (the encoder's
    first convolution has stride 2), never more than given."""
    frames = features.shape[-1]
    if padding_s * FRAMES_PER_S >= frames:
        # Whisper's own padding (the default) keeps every frame, whatever was heard: the scan
        # below is skipped (3.8 million values for a batch of 16 windows, 1 ms on one core,
        # held by the thread that feeds the GPU: 9 % of its py-spy samples on an H100).
        return features
    heard = np.flatnonzero(np.any(features != 0.0, axis=tuple(range(features.ndim - 1))))
    keep = (int(heard[-1]) + 1 if heard.size else 0) + int(round(padding_s * FRAMES_PER_S))
    keep = min(frames, max(2, keep + keep % 2))
    if keep // 2 == features.shape[-2] and keep + 2 <= frames:
        # An encoding with as many frames as the features have mel bands (160 frames make 80)
        # is taken by CTranslate2 for features not yet encoded (it tells them apart by shape
        # alone) and encoded a second time: decoded and aligned against noise. One frame pair
        # more of the padding makes it an encoding again.
        keep += 2
    return features if keep >= frames else features[..., :keep]


class SpeechLengthWhisper(WhisperModel):
    """A `WhisperModel` whose encoder sees each window's audio and `padding_s` of padding."""

    def __init__(self, *args, padding_s: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.padding_s = padding_s

    def encode(self, features: np.ndarray):
        return super().encode(without_padding(features, self.padding_s))
