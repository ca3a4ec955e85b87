"""Speaker-attributed transcription of a call with faster-whisper.

How a stereo call is transcribed, and why:

1. Each channel is one party (agent / customer). First each party's leak into the other's
   channel (line echo, headset bleed) is estimated and subtracted (`crosstalk`). Voice
   activity detection (Silero, shipped with faster-whisper) then finds each channel's speech
   regions, less the room's voices well under the party's own level (`voice.own_speech`);
   they are kept as the call's speech timeline for silence and hold checks, each with its
   level (`voice.speech_level_db`) for loudness checks.
2. Only voiced audio is decoded. A channel's regions are packed back to back into windows
   of at most 30 s (Whisper's window), so a channel that speaks 8 s of a 60 s call costs
   one window, not two. Each party is decoded on its own: packing both parties' regions
   into shared windows saves encoder passes but costs 3 points of CER on the dev corpus
   (the decoder's context then runs across speakers), measured with scripts/bench_asr.py.
3. Windows are decoded with word timestamps: sequentially with Whisper's temperature
   fallback on CPU, in batches on GPU, where batches pay; there the windows of all the calls
   being transcribed are decoded together (`batching.WindowPool`), not each lane's alone. A window
   may be encoded at its own length plus some padding instead of padded to 30 s
   (`encoder.SpeechLengthWhisper`, `AsrOptions.encode_padding_s`): faster, hearing slightly worse.
   Sequential decoding may read each window greedily first and with the beam only where that
   reading is unsure (`first_pass`, `AsrOptions.greedy_first_pass`).
   The decoder scores only the tokens Chinese is written with (`vocabulary`), not the words
   of other scripts that make up three quarters of Whisper's vocabulary.
4. Each word's time in the packed audio is mapped back to the recording's timeline, and
   each party's words are cut into utterances wherever the speaker paused:
   the segments later stages quote are turns, not 30-second lumps.
5. Text is converted to simplified Chinese and known Whisper hallucinations are dropped.
6. Voiced stretches that decoding returned no words for, or only a loop for (a line said
   twice in a row, or more characters than anyone says in the time: `text.loops`), are decoded
   again, each on its own, without the previous text as context and with the temperature
   fallback; what is still not heard is kept as the transcript's `unheard` spans
   (`voice.unheard`).
7. Where a stretch of an agent's utterance sounds like one of the center's script phrases
   (`AsrOptions.script_phrases`) but was written otherwise, the utterance is scored against
   its audio both ways, and the phrase is written where the model finds it at least as likely
   (`script`): GSM's 展现您的来遍 is read as the 感谢您的来电 that was said.
8. Before that, an agent's channel with the room's voices on it (`AsrOptions.rehear_room_s`) is
   decoded a second time with the room turned down (`room`) and the room at the edges of the
   agent's speech left out (`voice.speaker_edges`), and the script phrases only that hearing
   found are written in (`_heard_again`): under a room Whisper base loses a 再见 or a 您好 in
   one hearing or the other, seldom in both.

Long calls are streamed: the recording is read a block (`BLOCK_S`) at a time, and a block's
speech is decoded before the next is read; speech running into the next block is carried
over whole. Memory stays that of one block however long the call.

A `Transcriber` holds one model; `transcribe` may be called from several threads at once
(`workers`): on a CPU, two calls decoding side by side on one thread each keep both cores
busier than one call on two threads, because beam search is mostly sequential work. On a GPU
the workers prepare calls and one thread decodes their windows in shared batches.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.vad import VadOptions, get_speech_timestamps

from qcpipe.asr import voice
from qcpipe.asr.audio import BLOCK_S, SAMPLE_RATE
from qcpipe.asr.batching import WindowPool
from qcpipe.asr.crosstalk import remove_crosstalk
from qcpipe.asr.encoder import without_padding
from qcpipe.asr.first_pass import GreedyFirstWhisper
from qcpipe.asr.model import resolve_model
from qcpipe.asr.room import turned_down
from qcpipe.asr.script import NearStretch, heard_phrases, near_stretches
from qcpipe.asr.text import is_hallucination, loops, spoken_length, to_simplified
from qcpipe.asr.types import AsrOptions, Role, Segment, SpeechRegion, Transcript, Word
from qcpipe.asr.vocabulary import RESTRICTABLE_LANGUAGES, RemappedTokenizer, restricted_model_files
from qcpipe.config import ChannelMap
from qcpipe.errors import AudioError, ModelError

MAX_CHUNK_S = 30.0
# Speech ending this close to the end of a block may go on in the next: it is carried over.
CARRY_MARGIN_S = 2.0
# A pause longer than this between two words of one speaker starts a new utterance.
UTTERANCE_GAP_S = 0.6
# More characters a second than this in one speech region is not speech but a decoding loop:
# fast Mandarin is 6-8 (the speech-rate check's limit is 400 a minute), and a region's span
# includes the voice detector's padding.
MAX_CHARS_PER_S = 12.0
# An utterance read again against a script phrase is scored with this much audio around it,
# and encoded with this much of the padding after it.
REREAD_MARGIN_S = 0.2
REREAD_PADDING_S = 2.0
# A phrase a second hearing found is already in the first where the first holds it this close
# (the two hearings time the same words tens of milliseconds apart).
HEARD_AGAIN_SLACK_S = 1.0


def resolve_device(device: str = "auto", compute_type: str = "auto", *, here: bool = True) -> tuple[str, str]:
    """("cuda", "float16") when a CUDA device is present and asked for, else ("cpu", "int8").

    here: the model runs on this machine, so a CUDA device asked for must be visible here. A run
    whose workers are elsewhere (a Ray cluster's GPU nodes) sets False: "cuda" is then taken as
    asked for, and the workers find out whether they have one.
    """
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise ModelError(f"device '{device}' is not one of auto, cpu, cuda")
    if device == "cuda" and here and ctranslate2.get_cuda_device_count() == 0:
        raise ModelError("device 'cuda' was asked for but no CUDA device is visible")
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def default_workers() -> int:
    """One worker per core, on CPU and GPU alike, for different work: on CPU each decodes its
    calls on one thread; on GPU each reads, separates, voice-detects and computes the features
    of its calls, so that windows of several calls wait for each of the pool's batches."""
    return max(1, os.cpu_count() or 1)


class AudioSource(Protocol):
    """Audio to transcribe: `CallAudio` (in memory) or `AudioStream` (read block by block)."""

    path: Path
    source_rate: int

    @property
    def channels(self) -> int: ...

    def blocks(self, seconds: float = ...) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class _Region:
    """A speech region of one lane (an index into the call's lanes), in samples of the block."""

    lane: int
    start: int
    end: int


@dataclass(frozen=True)
class _PackedRegion:
    """Where one speech region sits in the packed (voiced-only) audio and in the recording."""

    lane: int
    packed_start: int
    original_start: int
    length: int


class Transcriber:
    """One loaded Whisper model that turns a recording into a `Transcript`."""

    def __init__(self, options: AsrOptions, models_dir: Path, workers: int = 1) -> None:
        self.options = options
        self.workers = max(1, workers)
        if options.restrict_vocabulary and options.language not in RESTRICTABLE_LANGUAGES:
            raise ModelError(f"restrict_vocabulary keeps the tokens Chinese is written with; "
                             f"language {options.language!r} needs the full vocabulary")
        model_dir = resolve_model(options.model, models_dir)
        cores = os.cpu_count() or 1
        pooled = options.batched and options.device == "cuda"
        try:
            files, kept = restricted_model_files(model_dir) if options.restrict_vocabulary else (None, None)
            self._model = GreedyFirstWhisper(
                str(model_dir),
                files=files,
                padding_s=options.encode_padding_s,
                sure_log_prob=options.sure_log_prob if options.greedy_first_pass else None,
                device=options.device,
                compute_type=options.compute_type,
                cpu_threads=max(1, cores // self.workers) if options.device == "cpu" else 0,
                # On a GPU the pool's threads decode every call's windows, each on a replica
                # (a CUDA stream) of its own; elsewhere each worker decodes its own calls on its
                # own replica of the model. (Pooled on a CPU, one replica's batches ran slower
                # than a replica per core: 10× against 16× realtime, batched, 16 dev calls on 2 cores.)
                num_workers=max(1, options.gpu_decoders) if pooled else self.workers,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"{model_dir}: cannot load the model: {exc}") from None
        # The tokens decoding never writes: faster-whisper's own list (-1), or for a restricted
        # vocabulary the same list under its ids.
        self._suppress_tokens = [-1]
        if kept is not None:
            self._model.hf_tokenizer = RemappedTokenizer(self._model.hf_tokenizer, kept)
            self._suppress_tokens = self._model.hf_tokenizer.non_speech_tokens()
        # Reads texts against the audio (`_log_likelihoods`), under the ids the model decodes with.
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe",
                                    language=options.language)
        self._pool = (WindowPool(self._model, options.batch_size, options.gpu_decoders, options.gpu_batch_min_windows)
                      if pooled else None)
        if pooled:
            # The workers' numpy work (features, crosstalk) on one BLAS and OpenMP thread each:
            # with the default of one thread per core in every worker, 8 workers on a 16-core
            # GPU machine did not finish 16 calls in a minute; with OMP_NUM_THREADS and
            # OPENBLAS_NUM_THREADS at 1, 16 workers ran at 159× realtime (scripts/bench_asr.py
            # --device cuda, H200). Process-wide, as those thread pools are.
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1)
        self._local = threading.local()

    @property
    def batch_fill(self) -> tuple[int, int] | None:
        """Batches decoded in the GPU pool so far and the windows in them (None where windows are
        not pooled): how well the calls in hand fill the card."""
        return (self._pool.counts.batches, self._pool.counts.windows) if self._pool else None

    def _pipeline(self) -> BatchedInferencePipeline:
        # One per thread: faster-whisper's pipeline keeps per-call state (last_speech_timestamp).
        pipeline = getattr(self._local, "pipeline", None)
        if pipeline is None:
            pipeline = self._local.pipeline = self._pool.pipeline() if self._pool else BatchedInferencePipeline(self._model)
        return pipeline

    def transcribe(
        self, audio: AudioSource, channel_map: ChannelMap = ChannelMap(), block_s: float = BLOCK_S
    ) -> Transcript:
        """Transcribe each party's channel; roles are unknown for mono recordings.

        `audio` is read `block_s` seconds at a time (see the module docstring); AudioError
        names the file when it cannot be decoded or its channels do not fit the channel map.
        """
        lanes = _lanes(audio.path, audio.channels, channel_map)
        words: list[tuple[int, Word]] = []
        speech: list[SpeechRegion] = []
        unheard: list[SpeechRegion] = []
        carry: np.ndarray | None = None
        offset = total = 0  # samples: where the buffer starts in the recording; samples read
        for block, last in _with_last(audio.blocks(block_s)):
            total += block.shape[1]
            buffer = block if carry is None or not carry.shape[1] else np.concatenate([carry, block], axis=1)
            heard = self._separated(buffer, lanes)
            own = {channel: self._own_speech(heard[channel]) for channel, _ in lanes}
            regions = [_Region(lane, s, e) for lane, (channel, _) in enumerate(lanes) for s, e in own[channel][0]]
            cut = buffer.shape[1] if last else _safe_cut(regions, buffer.shape[1])
            done = [_Region(r.lane, r.start, min(r.end, cut)) for r in regions if r.start < cut]
            speech += self._timeline(heard, lanes, done, own, offset)
            for lane, (channel, role) in enumerate(lanes):  # each party on its own (mixing them costs accuracy)
                lane_regions = [r for r in done if r.lane == lane]
                lane_words = self._decode_regions(heard, channel, lane_regions, offset)
                lane_words, looped = self._recover_looped(heard, channel, lane_regions, lane_words, offset)
                lane_words, lost = self._recover_lost(heard, channel, lane_regions, lane_words, offset, looped)
                if role is not Role.CUSTOMER:  # the script is the agent's
                    speaker, room_s = own[channel]
                    if 0 < self.options.rehear_room_s <= room_s:
                        lane_words = self._heard_again(heard, channel, lane_regions, lane_words, offset, speaker)
                    lane_words = self._reread_script(heard, channel, lane_words, offset)
                words += lane_words
                unheard += [SpeechRegion(channel, role, start, end) for start, end in sorted(looped + lost)]
            carry, offset = buffer[:, cut:], offset + cut
        segments = [seg for lane, (channel, role) in enumerate(lanes)
                    for seg in _utterances([w for i, w in words if i == lane], channel, role)]
        segments.sort(key=lambda seg: (seg.start, seg.channel))
        speech.sort(key=lambda reg: (reg.start, reg.channel))
        unheard.sort(key=lambda reg: (reg.start, reg.channel))
        return Transcript(
            segments=tuple(segments),
            speech=tuple(speech),
            duration=round(total / SAMPLE_RATE, 3),
            channels=audio.channels,
            roles_known=lanes[0][1] is not Role.UNKNOWN,
            options=self.options,
            source_rate=audio.source_rate,
            unheard=tuple(unheard),
        )

    def _separated(self, buffer: np.ndarray, lanes: list[tuple[int, Role]]) -> np.ndarray:
        """The buffer with each party's leak into the other's channel removed (stereo)."""
        if not self.options.remove_crosstalk or len(lanes) < 2:
            return buffer
        return remove_crosstalk(buffer, lanes[0][0], lanes[1][0])[0]

    def _recover_looped(self, buffer: np.ndarray, channel: int, regions: list[_Region],
                        words: list[tuple[int, Word]], offset: int
                        ) -> tuple[list[tuple[int, Word]], list[tuple[float, float]]]:
        """Decode again, on its own, each speech region whose words loop (`_looping`); return
        the words with each such region's replaced by what it is heard as alone, and the
        regions (seconds in the recording) that alone are heard as nothing.

        Under a room's voices Whisper base looped over a closing three times in the 64 dev
        calls (its words replaced by a line from earlier in the window, or by one phrase said
        over and over), and the closing check charged for a closing that was said. Alone, with
        no earlier speech in its window to copy, such a region was heard right. (Decoding it
        with the regions of the same sentence around it, packed, looped again.)"""
        if self.options.lost_speech_s <= 0 or not regions:
            return words, []
        spans = _seconds(regions, offset)
        starts = [start for start, _ in spans]
        by_region: list[list[int]] = [[] for _ in regions]  # word indices, by the region holding their midpoint
        for index, (_, word) in enumerate(words):
            at = bisect.bisect_right(starts, (word.start + word.end) / 2) - 1
            if at >= 0:
                by_region[at].append(index)
        replaced: set[int] = set()
        found: list[tuple[int, Word]] = []
        unheard: list[tuple[float, float]] = []
        for region, (start, end), indices in zip(regions, spans, by_region):
            if not _looping([words[i][1] for i in indices], end - start):
                continue
            again = self._decode_alone(buffer[channel, region.start:region.end], region.lane, start)
            replaced.update(indices)
            found += again
            if not again:
                unheard.append((round(start, 3), round(end, 3)))
        if not replaced:
            return words, []
        return [w for i, w in enumerate(words) if i not in replaced] + found, unheard

    def _recover_lost(self, buffer: np.ndarray, channel: int, regions: list[_Region],
                      words: list[tuple[int, Word]], offset: int, known: list[tuple[float, float]]
                      ) -> tuple[list[tuple[int, Word]], list[tuple[float, float]]]:
        """Decode again, one by one, the voiced stretches no word was recognised in (outside
        the stretches `known` to be unheard already); return all the words and the stretches
        (seconds in the recording) still not heard."""
        minimum = self.options.lost_speech_s
        if minimum <= 0 or not regions:
            return words, []
        spans = _seconds(regions, offset)
        lost = voice.unheard(spans, [(w.start, w.end) for _, w in words] + list(known), minimum)
        if not lost:
            return words, []
        lane = regions[0].lane
        found: list[tuple[int, Word]] = []
        for start, end in lost:
            first = max(0, int(start * SAMPLE_RATE) - offset)
            last = min(buffer.shape[1], int(end * SAMPLE_RATE) - offset)
            found += self._decode_alone(buffer[channel, first:last], lane, (offset + first) / SAMPLE_RATE)
        words = words + found
        return words, voice.unheard(lost, [(w.start, w.end) for _, w in found], minimum)

    def _timeline(self, heard: np.ndarray, lanes: list[tuple[int, Role]], regions: list[_Region],
                  own: dict[int, tuple[list[tuple[int, int]], float]], offset: int) -> list[SpeechRegion]:
        """The speech timeline of the block's `regions`, each with its level; a channel with a
        room (`AsrOptions.rehear_room_s`) has its regions' edges narrowed to the speaker's own
        level (`voice.speaker_edges`), so that silences are the parties' own."""
        timeline = []
        for lane, (channel, role) in enumerate(lanes):
            spans = [(r.start, r.end) for r in regions if r.lane == lane]
            if 0 < self.options.rehear_room_s <= own[channel][1]:
                spans = self._speaker_edges(heard[channel], spans)
            timeline += [SpeechRegion(channel, role, (offset + start) / SAMPLE_RATE, (offset + end) / SAMPLE_RATE,
                                      voice.speech_level_db(heard[channel, start:end])) for start, end in spans]
        return timeline

    def _heard_again(self, buffer: np.ndarray, channel: int, regions: list[_Region],
                     words: list[tuple[int, Word]], offset: int, speaker: list[tuple[int, int]]
                     ) -> list[tuple[int, Word]]:
        """The words, with the script phrases that a second hearing of the channel, with the
        room turned down (`room.turned_down`), heard (or came nearer to) and these words lack
        there written in as that hearing heard them (`with_phrases_heard_again`).

        Under a room's voices Whisper base loses or invents the short words of a script line,
        and which calls it does so in changes with any change to the audio: on the 64 dev calls
        with babble 15 dB under the agent, the original and the filtered audio each charged 6-8
        absence findings that were said, but hardly any of the same ones. A phrase that either
        hearing found was said; one that neither found is what the absence checks still charge
        or mark uncertain. The second hearing decodes each region from the speaker's first to
        last syllable at their own level (`voice.speaker_edges`): a colleague talking just before
        the agent's 您好 was decoded with it as 请问有什么好 in the first hearing; a syllable cut
        there costs nothing, as the first hearing keeps its words. Nothing else is taken from
        the second hearing: not its other words, nor a phrase where it looped. It costs one more decoding of the channel: 8 dev calls
        with babble took 1.63× as long (scripts/bench_robustness.py --cost)."""
        phrases = self.options.script_phrases
        if not phrases or not regions:
            return words
        quieter = turned_down(buffer[channel], speaker)[np.newaxis]  # the one channel, as a buffer of one
        # Each region from the speaker's first to last syllable: what the first hearing took of
        # the room at a region's edges, next to the agent's words, is left out of this one.
        edges = self._speaker_edges(buffer[channel], [(r.start, r.end) for r in regions])
        again = self._decode_regions(quieter, 0, [_Region(r.lane, *span) for r, span in zip(regions, edges)], offset)
        merged = with_phrases_heard_again([w for _, w in words], [w for _, w in again], phrases)
        return [(regions[0].lane, w) for w in merged]

    def _speaker_edges(self, samples: np.ndarray, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """A channel's speech `spans` narrowed to the speaker's own level (`voice.speaker_edges`)."""
        return voice.speaker_edges(samples, spans, self.options.background_below_db,
                                   self.options.vad_pad_ms * SAMPLE_RATE // 1000)

    def _reread_script(self, buffer: np.ndarray, channel: int, words: list[tuple[int, Word]],
                       offset: int) -> list[tuple[int, Word]]:
        """The words, with each stretch that sounds like a script phrase (`script`) written as
        the phrase where the model finds the utterance at least as likely so."""
        phrases = self.options.script_phrases
        if not phrases or not words:
            return words
        lane = words[0][0]
        kept: list[Word] = []
        for group in _word_groups([w for _, w in words]):
            text = "".join(w.text for w in group)
            places = near_stretches(text, phrases)
            if not places or group[-1].end - group[0].start > MAX_CHUNK_S - 2 * REREAD_MARGIN_S:
                kept += group
                continue
            first = max(0, int((group[0].start - REREAD_MARGIN_S) * SAMPLE_RATE) - offset)
            last = min(buffer.shape[1], int((group[-1].end + REREAD_MARGIN_S) * SAMPLE_RATE) - offset)
            readings: dict[str, NearStretch] = {}  # phrases that read the same (有什么可以帮您 in 请问…) once
            for stretch in (stretch for place in places for stretch in place):
                readings.setdefault(stretch.applied_to(text), stretch)
            stretches = list(readings.values())
            heard, *scores = self._log_likelihoods(buffer[channel, first:last], [text, *readings])
            # At each place the phrase the model finds likeliest, if at least as likely as what
            # was heard; places taken in order of that gain, none overlapping another taken.
            taken: list[tuple[NearStretch, float]] = []
            for stretch, score in sorted(zip(stretches, scores), key=lambda pair: -pair[1]):
                if score >= heard and not any(stretch.overlaps(other) for other, _ in taken):
                    taken.append((stretch, score))
            kept += _rewritten(group, taken) if taken else group
        return [(lane, w) for w in kept]

    def _log_likelihoods(self, samples: np.ndarray, texts: list[str]) -> list[float]:
        """How likely the model finds each text as the transcript of `samples` (≤30 s): the sum
        of its tokens' log-probabilities, each token given the audio and the tokens before it."""
        features = self._model.feature_extractor(samples.astype(np.float32, copy=False))
        frames = min(features.shape[-1], self._model.feature_extractor.nb_max_frames)
        # Every reading is scored on one encoding, of the utterance and 2 s of padding
        # (`encoder`): a few hundredths of a second, where one padded to 30 s takes 0.8 s.
        encoded = WhisperModel.encode(self._model, without_padding(pad_or_trim(features), REREAD_PADDING_S))
        tokenizer = self._tokenizer
        scores = []
        for text in texts:
            (result,) = self._model.model.align(encoded, tokenizer.sot_sequence, [tokenizer.encode(text)], frames)
            scores.append(float(sum(np.log(np.maximum(result.text_token_probs, 1e-9)))))
        return scores

    def _decode_alone(self, samples: np.ndarray, lane: int, at: float) -> list[tuple[int, Word]]:
        """One stretch decoded on its own: no earlier text as context, Whisper's temperature
        fallback for a window it cannot decode greedily."""
        opts = self.options
        raw_segments, _info = self._model.transcribe(
            samples.astype(np.float32, copy=False), language=opts.language, beam_size=opts.beam_size,
            vad_filter=False, word_timestamps=True, condition_on_previous_text=False,
            temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), hotwords=opts.hotwords,
            suppress_tokens=list(self._suppress_tokens),
        )
        words = []
        for raw in raw_segments:
            for raw_word in raw.words or ():
                text = to_simplified(raw_word.word).strip()
                if text:
                    words.append((lane, Word(text, round(at + float(raw_word.start), 3),
                                             round(at + float(raw_word.end), 3), round(float(raw_word.probability), 4))))
        return words

    def _own_speech(self, samples: np.ndarray) -> tuple[list[tuple[int, int]], float]:
        """The party's speech regions on its channel, without the room's voices under it, and
        the seconds of voice activity left out as the room's.

        Only the timeline and what is decoded leave the room out; the audio decoded is not
        changed: turning the room down between the agent's words (a 60 ms gate, −20 dB, or a
        300 ms one, −10 dB) made Whisper lose more first and last syllables than the room cost
        (dev calls with babble 15 dB under the agent: micro-F1 0.898 without, 0.836 and 0.898
        with, 2 clean calls charged without, 5 and 3 with)."""
        regions = self._speech_regions(samples)
        if self.options.background_below_db <= 0:
            return regions, 0.0
        own = voice.own_speech(samples, regions, self.options.background_below_db)
        return own, (sum(e - s for s, e in regions) - sum(e - s for s, e in own)) / SAMPLE_RATE

    def _speech_regions(self, samples: np.ndarray) -> list[tuple[int, int]]:
        vad = VadOptions(
            threshold=self.options.vad_threshold,
            min_silence_duration_ms=self.options.vad_min_silence_ms,
            speech_pad_ms=self.options.vad_pad_ms,
            max_speech_duration_s=MAX_CHUNK_S,
        )
        return [(ts["start"], ts["end"]) for ts in get_speech_timestamps(samples, vad)]

    def _decode_regions(
        self, buffer: np.ndarray, channel: int, regions: list[_Region], offset: int
    ) -> list[tuple[int, Word]]:
        """Decode one lane's speech regions (of `channel` of the buffer), packed into ≤30 s
        windows; each word in the recording's time with the lane it was heard on."""
        if not regions:
            return []
        packed, table, clips = _pack(buffer[channel], regions, offset)
        opts = self.options
        common = dict(
            language=opts.language,
            beam_size=opts.beam_size,
            vad_filter=False,
            word_timestamps=True,
            hotwords=opts.hotwords,
            initial_prompt=opts.initial_prompt,
            suppress_tokens=list(self._suppress_tokens),
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
                region = table[max(0, bisect.bisect_right(packed_starts, middle) - 1)]

                def original(t: float, region: _PackedRegion = region) -> float:
                    offset = min(max(int(round(t * SAMPLE_RATE)) - region.packed_start, 0), region.length)
                    return round((region.original_start + offset) / SAMPLE_RATE, 3)

                start, end = original(raw_word.start), original(raw_word.end)
                words.append((region.lane, Word(text, start, end, round(raw_word.probability, 4))))
        return words


def _seconds(regions: list[_Region], offset: int) -> list[tuple[float, float]]:
    """Each region's (start, end) in seconds of the recording (`offset`: where the buffer starts)."""
    return [((offset + r.start) / SAMPLE_RATE, (offset + r.end) / SAMPLE_RATE) for r in regions]


def _looping(words: list[Word], seconds: float) -> bool:
    """Whether the words heard in one speech region of `seconds` are a decoding loop."""
    text = "".join(w.text for w in words)
    return loops(text) or spoken_length(text) > MAX_CHARS_PER_S * max(seconds, 1.0)


def with_phrases_heard_again(words: list[Word], again: list[Word], phrases: tuple[str, ...]) -> list[Word]:
    """One lane's `words`, in time order, with each of `phrases` that the words of a second
    hearing (`again`) hold, or come nearer to (`script.near_stretches`), than `words` do within
    `HEARD_AGAIN_SLACK_S` of it: the second hearing's words there replace those of `words`
    whose middle falls in their span, unless one of those is part of a phrase `words` hold
    (the first hearing's 再见 is never given up for the room's 欢迎致电 the second heard over
    it). A near stretch taken is then read again against the audio like any other
    (`_reread_script`): 订阅您的来电 heard first and 展现您的来电 second is read as 感谢您的来电
    only if the model finds that at least as likely. An utterance of the second hearing that
    loops gives nothing."""
    merged = list(words)
    for group in _word_groups(again):
        if _looping(group, group[-1].end - group[0].start):
            continue
        text = "".join(w.text for w in group)
        candidates = [(f.start, f.end, f.phrase, 1.0) for f in heard_phrases(text, phrases)]
        candidates += [(p[0].start, p[0].end, p[0].phrase, p[0].similarity) for p in near_stretches(text, phrases)]
        for first, last, phrase, similarity in candidates:
            taken = _words_under(group, first, last)
            start, end = taken[0].start, taken[-1].end
            there = "".join(w.text for w in merged
                            if w.end > start - HEARD_AGAIN_SLACK_S and w.start < end + HEARD_AGAIN_SLACK_S)
            if heard_phrases(there, (phrase,)) or any(
                    s.similarity >= similarity for place in near_stretches(there, (phrase,)) for s in place):
                continue
            replaced = {id(w) for w in merged if start <= (w.start + w.end) / 2 <= end}
            if replaced & {id(w) for w in _phrase_words(merged, phrases)}:
                continue
            merged = [w for w in merged if id(w) not in replaced] + taken
    return sorted(merged, key=lambda w: w.start)


def _phrase_words(words: list[Word], phrases: tuple[str, ...]) -> list[Word]:
    """The words of `words` (one lane, in time order) that hold a script phrase."""
    held = []
    for group in _word_groups(words):
        for found in heard_phrases("".join(w.text for w in group), phrases):
            held += _words_under(group, found.start, found.end)
    return held


def _words_under(words: list[Word], start: int, end: int) -> list[Word]:
    """The words holding the characters [start, end) of their joined text."""
    under, at = [], 0
    for word in words:
        if at < end and start < at + len(word.text):
            under.append(word)
        at += len(word.text)
    return under


def _with_last(blocks: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, bool]]:
    """Each block with whether it is the last (one block of look-ahead)."""
    previous = None
    for block in blocks:
        if previous is not None:
            yield previous, False
        previous = block
    if previous is not None:
        yield previous, True


def _safe_cut(regions: list[_Region], length: int) -> int:
    """Where to end a block that is not the recording's last: a point no lane is speaking at.

    Speech near the end of the block may go on in the next one, so the cut goes back to the
    start of any region within `CARRY_MARGIN_S` of the end, and of any region spanning the
    cut, until none does. Regions are at most 30 s (VAD splits longer speech), so this stays
    near the end; only unbroken overlapping speech of a whole block forces a cut inside speech.
    """
    margin = int(CARRY_MARGIN_S * SAMPLE_RATE)
    cut = length - margin
    while True:
        spanning = [r.start for r in regions if r.start < cut < r.end + margin]
        if not spanning:
            return cut
        if min(spanning) <= 0:
            return length - margin
        cut = min(spanning)


def _word_groups(words: list[Word]) -> list[list[Word]]:
    """One lane's words, in time order, cut wherever the speaker paused."""
    groups: list[list[Word]] = []
    for word in sorted(words, key=lambda w: w.start):
        if groups and word.start - groups[-1][-1].end <= UTTERANCE_GAP_S:
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups


def _utterances(words: list[Word], channel: int, role: Role) -> list[Segment]:
    """One lane's words cut into utterances wherever the speaker paused."""
    return [seg for group in _word_groups(words) if (seg := _segment(group, channel, role)) is not None]


def _rewritten(words: list[Word], stretches: list[tuple[NearStretch, float]]) -> list[Word]:
    """`words` with the characters of each stretch (positions in their joined text, none
    overlapping) replaced by its phrase: the words it touches become one word, timed from the
    first's start to the last's end, with the lowest of their probabilities (it was heard
    poorly, whatever it is read as)."""
    bounds, at = [], 0
    for word in words:
        bounds.append((at, at + len(word.text)))
        at += len(word.text)
    result: list[Word] = []
    index = 0
    for stretch, _score in sorted(stretches, key=lambda taken: taken[0].start):
        while index < len(words) and bounds[index][1] <= stretch.start:
            result.append(words[index])
            index += 1
        touched = [i for i in range(index, len(words)) if bounds[i][0] < stretch.end]
        if not touched:
            continue
        first, last = touched[0], touched[-1]
        text = (words[first].text[:stretch.start - bounds[first][0]] + stretch.phrase
                + words[last].text[stretch.end - bounds[last][0]:])
        probability = min(words[i].probability for i in touched)
        result.append(Word(text, words[first].start, words[last].end, probability))
        index = last + 1
    return result + words[index:]


def _lanes(path: Path, channels: int, channel_map: ChannelMap) -> list[tuple[int, Role]]:
    """(channel, role) of each party to transcribe."""
    if channels == 1:
        return [(0, Role.UNKNOWN)]
    if max(channel_map.agent, channel_map.customer) >= channels:
        raise AudioError(
            path,
            f"{channels} channels, but the channel map expects agent on {channel_map.agent} "
            f"and customer on {channel_map.customer}",
        )
    if channels > 2 and not channel_map.ignore_other_channels:
        raise AudioError(
            path,
            f"{channels} channels: a call recording is mono or stereo (agent, customer); to take two of "
            "these channels and ignore the others, set [channels] agent, customer and ignore_other_channels = true "
            "in the config",
        )
    return [(channel_map.agent, Role.AGENT), (channel_map.customer, Role.CUSTOMER)]


def _pack(
    samples: np.ndarray, regions: list[_Region], offset: int
) -> tuple[np.ndarray, list[_PackedRegion], list[dict[str, float]]]:
    """Concatenate one lane's speech regions; cut the result into ≤30 s windows at region
    boundaries. `offset`: where the buffer starts in the recording, in samples. Returns the
    packed audio, where each region went, and each window's span in it."""
    limit = int(MAX_CHUNK_S * SAMPLE_RATE)
    table: list[_PackedRegion] = []
    clips: list[dict[str, float]] = []
    position = window_start = 0
    for region in regions:
        size = region.end - region.start
        if position > window_start and position + size - window_start > limit:
            clips.append({"start": window_start / SAMPLE_RATE, "end": position / SAMPLE_RATE})
            window_start = position
        table.append(_PackedRegion(region.lane, position, offset + region.start, size))
        position += size
    clips.append({"start": window_start / SAMPLE_RATE, "end": position / SAMPLE_RATE})
    packed = np.concatenate([samples[r.start:r.end] for r in regions]).astype(np.float32, copy=False)
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
