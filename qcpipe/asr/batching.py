"""Windows of concurrent calls decoded together: one GPU batch for many calls.

Why: a call's lane holds one or two ≤30 s windows of speech, so batching each lane on its own
gives the GPU batches of one or two, each decoding step far too small to fill it: on an H200
the per-lane batches ran at 37× realtime with the GPU mostly idle (nvidia-smi dmon: 0–57 %
busy, about a quarter on average), 159× once pooled (scripts/bench_asr.py). Here the
transcription threads hand their lanes' windows (as log-mel features) to one decoding thread,
which takes everything waiting, up to `max_windows`, and decodes it as one batch. Nothing waits
on purpose: while one batch runs on the GPU the next gathers, so batches grow with the load.

Only the decoding is pooled: each thread still reads, separates and voice-detects its call, and
once its windows come back it times their words (aligned against the batch's encoding of its
windows, copied to the host) and maps them back to the recording, so that the decoding threads do
nothing but decode. Windows decode independently (no previous text, no timestamp tokens), and each
lane's words are timed on their own, so a lane hears what it would have heard alone, up to float
rounding on the GPU.

Several decoding threads (`decoders`, each on its own CUDA stream of the one model: CTranslate2's
`inter_threads`, the weights shared) take batches from the same queue. With one, that thread
was the cap: on an H100 with 16 cores it spent 73 % of its time inside `generate`, the workers
waited on it 80 % of theirs, and the GPU was busy a quarter of the time (py-spy, nvidia-smi
dmon; 108–127× realtime), while four processes of four workers each on the same card together
made 229×. Eight decoding threads: 234× in one process (scripts/bench_asr.py --gpu-decoders).
With the lanes' finishing taken out of the decoding threads: 171× before, 209× after, run one
after the other (H100, 16 workers, the dev corpus 4×; the first run also paid for a cold start,
and a later run of the change made 252×). The GPU then kept busy 60–70 % of the time, and more
workers (32, 48), decoders (16) or windows per batch (32) made no more of it.

Those batches held about one window each (1.03 on an H200, whatever the decoding threads,
batch size or gathering): a lane joined a batch only if its decoding options were equal to the
first lane's, and they never were, since faster-whisper keeps each lane's own clip timestamps
(where its windows were cut from its audio) among them. The decoding step does not read those,
so lanes now join whatever their clips (`_Request.decoding`); on the CPU, four calls at once into
one decoding thread now give 8 windows in 4 batches where they gave 8 in 8. Figures above were
taken with a lane's own windows alone in each batch (about 440× realtime once up on an H200
with Ray's two workers, the card busy all the time). A lane in a shared batch hears what it
would alone, up to float rounding on the GPU; with `encode_padding_s` under 30 its windows are
encoded to the length of the batch's longest, not its own (more padding, the same speech).

`min_windows` makes the threads gather: one decodes whatever is waiting whenever none is
decoding (the card never waits while windows do), and another starts beside it only once that
many windows wait. 1 (the default) starts one as soon as any window waits; what more pays on a
card with the lanes sharing batches is yet to be measured (`scripts/gpu_figures.sh --sweep`).
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import TranscriptionOptions, get_ctranslate2_storage


@dataclass(eq=False)
class _Request:
    """One lane's windows, waiting to be decoded, with what faster-whisper decodes them with."""

    features: np.ndarray  # (windows, mels, frames)
    tokenizer: Any
    options: TranscriptionOptions
    result: Future = field(default_factory=Future)
    # What the decoding step reads of the options. A lane's clip timestamps (where its windows
    # were cut from its audio) are read before its windows are made and after they are decoded,
    # in the lane's own thread, never by the decoding step, and no two lanes of a run have the
    # same: compared whole, the options kept every lane in a batch of its own.
    decoding: TranscriptionOptions = field(init=False)

    def __post_init__(self) -> None:
        self.decoding = dataclasses.replace(self.options, clip_timestamps=[])

    def joins(self, other: _Request) -> bool:
        """Whether the two can share a batch: the same decoding options and language."""
        return (self.decoding == other.decoding and self.tokenizer.language == other.tokenizer.language
                and self.tokenizer.task == other.tokenizer.task)


@dataclass(frozen=True)
class Decoded:
    """A lane's part of a decoded batch: the decoder's outputs (tokens, scores) for each of its
    windows, and, where its words are to be timed, the batch's encoding of those windows, on the
    host."""

    outputs: list[dict]
    encoded: np.ndarray | None


@dataclass
class PoolCounts:
    """Batches decoded and the windows in them: their ratio is how well the pool fills the GPU."""

    batches: int = 0
    windows: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, batches: int, windows: int) -> None:
        with self._lock:  # the pool's threads count into one
            self.batches += batches
            self.windows += windows


class WindowPool:
    """The decoding threads of a model (`decoders` of them, for as many batches at once as the
    model has replicas), fed by any number of transcription threads. With a batch decoding,
    another starts only once `min_windows` windows wait (see the module's docstring). The threads
    end when the pool is dropped (they hold the model, and so its GPU memory)."""

    def __init__(self, model: WhisperModel, max_windows: int, decoders: int = 1, min_windows: int = 1) -> None:
        self.model = model
        self.counts = PoolCounts()
        self._waiting = Waiting(max(1, max_windows), max(1, min_windows))
        for number in range(max(1, decoders)):
            threading.Thread(target=_decode_forever, args=(self._waiting, BatchedInferencePipeline(model), self.counts),
                             name=f"asr-window-pool-{number}", daemon=True).start()
        weakref.finalize(self, self._waiting.close)

    def pipeline(self) -> BatchedInferencePipeline:
        """A pipeline for one thread: its `transcribe` prepares the windows there and decodes
        them in the pool."""
        return _PooledPipeline(self)

    def decode(self, features: np.ndarray, tokenizer: Any, options: Any) -> Decoded:
        """These windows, decoded in some batch."""
        request = _Request(features, tokenizer, options)
        self._waiting.put(request)
        return request.result.result()


class Waiting:
    """The lanes waiting for a decoding thread, in the order they came, and how many batches are
    decoding. A thread may start a batch when none is decoding, or when `min_windows` windows
    wait; it takes the first lane and those behind it that join it, up to `max_windows`."""

    def __init__(self, max_windows: int, min_windows: int = 1) -> None:
        self.max_windows = max_windows
        self.min_windows = min_windows
        self._changed = threading.Condition()
        self._lanes: deque[_Request] = deque()
        self._windows = 0  # in the lanes waiting
        self._decoding = 0  # batches taken and not yet done
        self._closed = False

    def put(self, request: _Request) -> None:
        with self._changed:
            self._lanes.append(request)
            self._windows += len(request.features)
            self._changed.notify_all()

    def take(self) -> list[_Request] | None:
        """The next batch, once one may start; None once the pool is closed. Each batch taken
        is to be reported `done`."""
        with self._changed:
            while not self._closed:
                if self._lanes and (self._decoding == 0 or self._windows >= self.min_windows):
                    batch = self._next_batch()
                    self._decoding += 1
                    return batch
                self._changed.wait()
            return None

    def _next_batch(self) -> list[_Request]:
        first = self._lanes.popleft()
        batch, windows = [first], len(first.features)
        while self._lanes and self._lanes[0].joins(first):
            if windows + len(self._lanes[0].features) > self.max_windows:
                break
            batch.append(self._lanes.popleft())
            windows += len(batch[-1].features)
        self._windows -= windows
        return batch

    def done(self) -> None:
        """A batch taken has been decoded: the next may start."""
        with self._changed:
            self._decoding -= 1
            self._changed.notify_all()

    def close(self) -> None:
        """The pool is dropped: the threads end (no lane is left waiting on a dropped pool)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def _decode_forever(waiting: Waiting, decoder: BatchedInferencePipeline, counts: PoolCounts) -> None:
    """Decode batch after batch, until the pool is closed."""
    while (batch := waiting.take()) is not None:
        first = batch[0]
        try:
            encoded, outputs = decoder.generate_segment_batched(np.concatenate([r.features for r in batch]),
                                                                first.tokenizer, first.options)
            # The lanes time their words against the batch's encoding of their windows. Encoding
            # them again in each lane's thread would cost a second encoder pass per window, each
            # a small job queued on the model's replicas beside the batches; the copy to the host
            # is 1.5 MB a window (Whisper base, float16).
            on_host = on_the_host(encoded) if first.options.word_timestamps else None
        except BaseException as exc:  # noqa: BLE001 (handed to the threads that wait on it)
            for request in batch:
                request.result.set_exception(exc)
            continue
        finally:
            waiting.done()
        counts.add(batches=1, windows=sum(len(r.features) for r in batch))
        at = 0
        for request in batch:
            windows = len(request.features)
            request.result.set_result(Decoded(outputs[at:at + windows],
                                              None if on_host is None else on_host[at:at + windows]))
            at += windows


def on_the_host(encoded: ctranslate2.StorageView) -> np.ndarray:
    """An encoding as a numpy array in the host's memory; bfloat16 (the card's, with
    `compute_type` bfloat16), which numpy has no type for, as float32."""
    if encoded.dtype == ctranslate2.DataType.bfloat16:
        encoded = encoded.to(ctranslate2.DataType.float32)
    return np.asarray(encoded.to_device(ctranslate2.Device.cpu))


class _Finished(BatchedInferencePipeline):
    """One lane's part of a pooled batch, finished as faster-whisper finishes a batch of its
    own: cut into segments, and words timed against the batch's encoding of the lane's windows,
    from no earlier speech, as if the lane had been decoded alone."""

    def __init__(self, model: WhisperModel, decoded: Decoded) -> None:
        super().__init__(model)
        self._decoded = decoded

    def generate_segment_batched(self, features, tokenizer, options):  # noqa: D102 (faster-whisper's)
        encoded = self._decoded.encoded
        return (None if encoded is None else get_ctranslate2_storage(encoded)), self._decoded.outputs


class _PooledPipeline(BatchedInferencePipeline):
    """faster-whisper's batched pipeline whose decoding step goes to the pool."""

    def __init__(self, pool: WindowPool) -> None:
        super().__init__(pool.model)
        self._pool = pool

    def forward(self, features, tokenizer, chunks_metadata, options):  # noqa: D102 (faster-whisper's)
        # Finished here, in the thread that waits for it, not in the decoding thread: the
        # alignment and the segment cutting would otherwise hold the decoding thread from its
        # next batch (on an H100 they and a second encoding took 13 % of its time).
        decoded = self._pool.decode(features, tokenizer, options)
        return _Finished(self.model, decoded).forward(features, tokenizer, chunks_metadata, options)
