"""Speaker-attributed transcription of a call with faster-whisper.

How a stereo call is transcribed, and why:

1. Each channel is one party (agent / customer). Voice activity detection (Silero, shipped
   with faster-whisper) finds each channel's speech regions; they are kept as the call's
   speech timeline for silence and hold checks.
2. Only voiced audio is decoded. A channel's regions are packed back to back into chunks of
   at most 30 s (Whisper's window), so a channel that speaks 8 s of a 60 s call costs one
   window, not two.
3. The chunks are decoded in batches (BatchedInferencePipeline: one encoder pass per batch,
   no sequential seeking), with word timestamps. Batches pay on GPU.
4. Each word's time in the packed audio is mapped back to the recording's timeline, and the
   words are cut into utterances wherever the speaker paused: the segments later stages
   quote are turns, not 30-second lumps.
5. Text is converted to simplified Chinese and known Whisper hallucinations are dropped.

A `Transcriber` holds one model; `transcribe` may be called from several threads at once
(`workers`): on a CPU, two calls decoding side by side on one thread each keep both cores
busier than one call on two threads, because beam search is mostly sequential work.
"""

from __future__ import annotations

import bisect
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcpipe.asr.audio import SAMPLE_RATE, CallAudio
from qcpipe.asr.model import resolve_model
from qcpipe.asr.text import is_hallucination, to_simplified
from qcpipe.asr.types import AsrOptions, Role, Segment, SpeechRegion, Transcript, Word
from qcpipe.config import ChannelMap
from qcpipe.errors import AudioError, ModelError

MAX_CHUNK_S = 30.0
# A pause longer than this between two words of one speaker starts a new utterance.
UTTERANCE_GAP_S = 0.6


def resolve_device(device: str = "auto", compute_type: str = "auto") -> tuple[str, str]:
    """("cuda", "float16") when a CUDA device is present and asked for, else ("cpu", "int8")."""
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise ModelError(f"device '{device}' is not one of auto, cpu, cuda")
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise ModelError("device 'cuda' was asked for but no CUDA device is visible")
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def default_workers(device: str) -> int:
    """CPU: one worker per core, each on one thread. GPU: two, so decoding overlaps audio loading."""
    return 2 if device == "cuda" else max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _PackedRegion:
    """Where one speech region sits in the packed (voiced-only) audio and in the recording."""

    packed_start: int
    original_start: int
    length: int


class Transcriber:
    """One loaded Whisper model that turns `CallAudio` into a `Transcript`."""

    def __init__(self, options: AsrOptions, models_dir: Path, workers: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.options = options
        self.workers = max(1, workers)
        model_dir = resolve_model(options.model, models_dir)
        cores = os.cpu_count() or 1
        try:
            self._model = WhisperModel(
                str(model_dir),
                device=options.device,
                compute_type=options.compute_type,
                cpu_threads=max(1, cores // self.workers) if options.device == "cpu" else 0,
                num_workers=self.workers,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"{model_dir}: cannot load the model: {exc}") from None
        self._local = threading.local()

    def _pipeline(self):
        # BatchedInferencePipeline keeps per-call state (last_speech_timestamp): one per thread.
        pipeline = getattr(self._local, "pipeline", None)
        if pipeline is None:
            from faster_whisper import BatchedInferencePipeline

            pipeline = self._local.pipeline = BatchedInferencePipeline(self._model)
        return pipeline

    def transcribe(self, audio: CallAudio, channel_map: ChannelMap = ChannelMap()) -> Transcript:
        """Transcribe each party's channel; roles are unknown for mono recordings."""
        lanes = _lanes(audio, channel_map)
        segments: list[Segment] = []
        speech: list[SpeechRegion] = []
        for channel, role in lanes:
            regions = self._speech_regions(audio.samples[channel])
            speech += [SpeechRegion(channel, role, s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in regions]
            segments += self._transcribe_channel(audio.samples[channel], regions, channel, role)
        segments.sort(key=lambda seg: (seg.start, seg.channel))
        speech.sort(key=lambda reg: (reg.start, reg.channel))
        return Transcript(
            segments=tuple(segments),
            speech=tuple(speech),
            duration=round(audio.duration, 3),
            channels=audio.channels,
            roles_known=lanes[0][1] is not Role.UNKNOWN,
            options=self.options,
        )

    def _speech_regions(self, samples: np.ndarray) -> list[tuple[int, int]]:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        vad = VadOptions(
            threshold=self.options.vad_threshold,
            min_silence_duration_ms=self.options.vad_min_silence_ms,
            speech_pad_ms=self.options.vad_pad_ms,
            max_speech_duration_s=MAX_CHUNK_S,
        )
        return [(ts["start"], ts["end"]) for ts in get_speech_timestamps(samples, vad)]

    def _transcribe_channel(
        self, samples: np.ndarray, regions: list[tuple[int, int]], channel: int, role: Role
    ) -> list[Segment]:
        words = sorted(self._decode_regions(samples, regions), key=lambda item: item[1].start)
        utterances: list[list[Word]] = []
        for _region, word in words:
            if utterances and word.start - utterances[-1][-1].end <= UTTERANCE_GAP_S:
                utterances[-1].append(word)
            else:
                utterances.append([word])
        return [seg for group in utterances if (seg := _segment(group, channel, role)) is not None]

    def _decode_regions(self, samples: np.ndarray, regions: list[tuple[int, int]]) -> list[tuple[int, Word]]:
        """Decode the speech regions (packed into ≤30 s chunks); words in the recording's time,
        each with the index of the region it was heard in."""
        if not regions:
            return []
        packed, table, clips = _pack(samples, regions)
        opts = self.options
        common = dict(
            language=opts.language,
            beam_size=opts.beam_size,
            vad_filter=False,
            word_timestamps=True,
            hotwords=opts.hotwords,
            initial_prompt=opts.initial_prompt,
        )
        if opts.batched:
            raw_segments, _info = self._pipeline().transcribe(
                packed, batch_size=opts.batch_size, clip_timestamps=clips, without_timestamps=True,
                condition_on_previous_text=False, **common,
            )
        else:
            # Whisper's own sequential decoding of the packed audio, with its temperature
            # fallback for failed windows.
            raw_segments, _info = self._model.transcribe(packed, **common)
        packed_starts = [r.packed_start for r in table]
        words: list[tuple[int, Word]] = []
        for raw in raw_segments:
            for raw_word in raw.words or ():
                text = to_simplified(raw_word.word).strip()
                if not text:
                    continue
                # A word belongs to the region holding its midpoint and is clamped to it:
                # alignment often starts a word a little before the cut between two packed
                # regions, which would otherwise stretch it back across the whole pause.
                middle = int(round((raw_word.start + raw_word.end) / 2 * SAMPLE_RATE))
                index = max(0, bisect.bisect_right(packed_starts, middle) - 1)
                region = table[index]

                def original(t: float, region: _PackedRegion = region) -> float:
                    offset = min(max(int(round(t * SAMPLE_RATE)) - region.packed_start, 0), region.length)
                    return round((region.original_start + offset) / SAMPLE_RATE, 3)

                start, end = original(raw_word.start), original(raw_word.end)
                words.append((index, Word(text, start, end, round(raw_word.probability, 4))))
        return words


def _chunk_indices(regions: list[tuple[int, int]]) -> list[int]:
    """The chunk each region is packed into, by the same rule as `_pack`."""
    chunks, chunk, filled = [], 0, 0
    limit = int(MAX_CHUNK_S * SAMPLE_RATE)
    for start, end in regions:
        if filled and filled + end - start > limit:
            chunk, filled = chunk + 1, 0
        filled += end - start
        chunks.append(chunk)
    return chunks


def _lanes(audio: CallAudio, channel_map: ChannelMap) -> list[tuple[int, Role]]:
    if audio.channels == 1:
        return [(0, Role.UNKNOWN)]
    if max(channel_map.agent, channel_map.customer) >= audio.channels:
        raise AudioError(
            audio.path,
            f"{audio.channels} channels, but the channel map expects agent on {channel_map.agent} "
            f"and customer on {channel_map.customer}",
        )
    return [(channel_map.agent, Role.AGENT), (channel_map.customer, Role.CUSTOMER)]


def _pack(
    samples: np.ndarray, regions: list[tuple[int, int]]
) -> tuple[np.ndarray, list[_PackedRegion], list[dict[str, float]]]:
    """Concatenate speech regions; cut the result into ≤30 s clips at region boundaries."""
    table: list[_PackedRegion] = []
    bounds: dict[int, list[int]] = {}
    position = 0
    for (start, end), chunk in zip(regions, _chunk_indices(regions)):
        table.append(_PackedRegion(position, start, end - start))
        bounds.setdefault(chunk, [position, 0])[1] = position = position + end - start
    clips = [{"start": first / SAMPLE_RATE, "end": last / SAMPLE_RATE} for first, last in bounds.values()]
    packed = np.concatenate([samples[s:e] for s, e in regions]).astype(np.float32, copy=False)
    return packed, table, clips


def _segment(words: list[Word], channel: int, role: Role) -> Segment | None:
    text = "".join(w.text for w in words)
    if is_hallucination(text):
        return None
    return Segment(
        channel=channel,
        role=role,
        start=words[0].start,
        end=max(w.end for w in words),
        text=text,
        confidence=round(float(np.mean([w.probability for w in words])), 4),
        words=tuple(words),
    )
