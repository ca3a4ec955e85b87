"""The window pool: lanes of concurrent calls decoded in shared batches, each lane given back
its own words, as if it had been decoded alone (real model, real dev audio, on CPU)."""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import ctranslate2
import numpy as np
import pytest
from faster_whisper import BatchedInferencePipeline, WhisperModel

from qcpipe.asr import load_audio
from qcpipe.asr.audio import SAMPLE_RATE
from qcpipe.asr.batching import Waiting, WindowPool, _Request, on_the_host
from qcpipe.asr.model import resolve_model
from qcpipe.asr.transcriber import Transcriber
from qcpipe.asr.types import AsrOptions
from qcpipe.config import default_models_dir
from tests.helpers.paths import DEV_CORPUS
from tests.helpers.transcribers import shortest_calls_at_once

pytestmark = pytest.mark.asr

LANE_S = 20


@pytest.fixture(scope="module")
def model() -> WhisperModel:
    return WhisperModel(str(resolve_model("base", default_models_dir())), device="cpu", compute_type="int8",
                        cpu_threads=2, local_files_only=True)


@pytest.fixture(scope="module")
def lanes() -> list[np.ndarray]:
    """Four lanes: the first 20, 19, 18 and 17 s of each party of two dev calls. Of different
    lengths, as a run's lanes are, so that each lane's windows are cut from its audio at clip
    timestamps of its own."""
    found = []
    for call_id in ("D110000", "D110008"):
        path = next((DEV_CORPUS / "audio").glob(f"{call_id}.*"))
        audio = load_audio(path).samples
        for channel in (0, 1):
            found.append(audio[channel, :(LANE_S - len(found)) * SAMPLE_RATE])
    return found


@pytest.fixture(scope="module")
def alone(model: WhisperModel, lanes: list[np.ndarray]) -> list[list[tuple[str, float, float]]]:
    """Each lane's words as decoded on its own."""
    heard = [_words(BatchedInferencePipeline(model), lane) for lane in lanes]
    assert all(heard), "a lane was heard as silence: nothing would be compared"
    return heard


def _words(pipeline: BatchedInferencePipeline, lane: np.ndarray) -> list[tuple[str, float, float]]:
    segments, _ = pipeline.transcribe(lane, language="zh", beam_size=5, batch_size=8, word_timestamps=True,
                                      clip_timestamps=[{"start": 0.0, "end": len(lane) / SAMPLE_RATE}],
                                      without_timestamps=True, condition_on_previous_text=False)
    return [(w.word, round(w.start, 2), round(w.end, 2)) for s in segments for w in s.words or ()]


@pytest.mark.parametrize(("decoders", "min_windows"), [(1, 1), (2, 1), (2, 4)])
def test_lanes_decoded_at_once_share_batches_and_each_gets_its_own_words(
    model: WhisperModel, lanes: list[np.ndarray], alone: list[list[tuple[str, float, float]]], decoders: int,
    min_windows: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[int] = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda features: encoded.append(len(features)) or encode(features))
    pool = WindowPool(model, max_windows=4, decoders=decoders, min_windows=min_windows)
    start = threading.Barrier(len(lanes))

    def decode(lane: np.ndarray) -> list[tuple[str, float, float]]:
        start.wait()
        return _words(pool.pipeline(), lane)

    with ThreadPoolExecutor(len(lanes)) as threads:
        together = list(threads.map(decode, lanes))
    assert together == alone
    # Each window encoded once: its words timed against the batch's encoding, not a second one.
    assert sum(encoded) == pool.counts.windows == len(lanes), f"{sum(encoded)} windows encoded"
    # Two decoders may each take a lane as it comes; one, or two gathering, must wait and gather.
    if decoders == 1 or min_windows > 1:
        assert pool.counts.batches < len(lanes), "no two lanes shared a batch"


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_an_encoding_in_any_of_the_models_precisions_comes_to_the_host_as_numbers(dtype: str) -> None:
    values = np.arange(-3, 3, dtype=np.float32).reshape(1, 2, 3) / 4  # exact in each precision
    encoded = ctranslate2.StorageView.from_array(values).to(getattr(ctranslate2.DataType, dtype))
    np.testing.assert_array_equal(on_the_host(encoded).astype(np.float32), values)


def _lane(windows: int, model: WhisperModel) -> _Request:
    return _Request(np.zeros((windows, model.feature_extractor.mel_filters.shape[0], 3000), dtype=np.float32),
                    *_tokenizer_and_options(model))


def _taken(batch: list[_Request] | None) -> list[int]:
    assert batch is not None, "the pool was closed"
    return [len(lane.features) for lane in batch]


def test_beside_a_batch_decoding_another_starts_only_once_enough_windows_wait(model: WhisperModel) -> None:
    waiting = Waiting(max_windows=8, min_windows=3)
    waiting.put(_lane(1, model))
    assert _taken(waiting.take()) == [1]  # none decoding: even one window starts at once
    waiting.put(_lane(1, model))
    waiting.put(_lane(1, model))
    taken: list[list[_Request] | None] = []
    taker = threading.Thread(target=lambda: taken.append(waiting.take()))
    taker.start()
    taker.join(0.3)
    assert taker.is_alive(), "a second batch started with 2 windows waiting, 3 asked for"
    waiting.put(_lane(1, model))
    taker.join(5)
    assert _taken(taken[0]) == [1, 1, 1]


def test_once_no_batch_decodes_whatever_waits_starts(model: WhisperModel) -> None:
    """The card never waits while windows do: gathering is only beside a batch decoding."""
    waiting = Waiting(max_windows=8, min_windows=3)
    waiting.put(_lane(1, model))
    waiting.take()
    waiting.put(_lane(1, model))
    taken: list[list[_Request] | None] = []
    taker = threading.Thread(target=lambda: taken.append(waiting.take()))
    taker.start()
    taker.join(0.3)
    assert taker.is_alive()
    waiting.done()  # the batch decoding is done: nothing decodes, one window waits
    taker.join(5)
    assert _taken(taken[0]) == [1]


def test_without_gathering_a_batch_starts_beside_another_as_soon_as_a_window_waits(model: WhisperModel) -> None:
    waiting = Waiting(max_windows=8)
    waiting.put(_lane(2, model))
    waiting.take()
    waiting.put(_lane(1, model))
    assert _taken(waiting.take()) == [1]


def test_a_batch_takes_the_lanes_behind_the_first_up_to_its_windows(model: WhisperModel) -> None:
    waiting = Waiting(max_windows=4)
    for windows in (2, 2, 1, 5):
        waiting.put(_lane(windows, model))
    assert _taken(waiting.take()) == [2, 2]
    waiting.done()
    assert _taken(waiting.take()) == [1]  # the 5 would not fit
    waiting.done()
    assert _taken(waiting.take()) == [5]  # a lane longer than a batch still goes, alone


def test_closing_ends_the_threads_waiting_to_take(model: WhisperModel) -> None:
    waiting = Waiting(max_windows=8, min_windows=3)
    taken: list[list[_Request] | None] = []
    taker = threading.Thread(target=lambda: taken.append(waiting.take()))
    taker.start()
    waiting.close()
    taker.join(5)
    assert taken == [None]


def test_a_batch_that_fails_fails_its_lanes_and_the_pool_goes_on(
    model: WhisperModel, lanes: list[np.ndarray], alone: list[list[tuple[str, float, float]]],
) -> None:
    pool = WindowPool(model, max_windows=4)
    wrong_shape = np.zeros((1, 7, 3000), dtype=np.float32)  # 7 mel bands: the model takes 80
    with pytest.raises(ValueError):
        pool.decode(wrong_shape, *_tokenizer_and_options(model))
    assert _words(pool.pipeline(), lanes[0]) == alone[0]


def _tokenizer_and_options(model: WhisperModel, end_s: float = 1.0, **transcribing) -> tuple:
    """What faster-whisper's pipeline hands the decoding step, caught from a real transcription
    of a lane whose speech ends at `end_s`."""
    caught: list[tuple] = []

    class Catch(BatchedInferencePipeline):
        def forward(self, features, tokenizer, chunks_metadata, options):
            caught.append((tokenizer, options))
            return [[] for _ in chunks_metadata]

    list(Catch(model).transcribe(np.zeros(2 * SAMPLE_RATE, dtype=np.float32), **{"language": "zh", **transcribing},
                                 clip_timestamps=[{"start": 0.0, "end": end_s}])[0])
    return caught[0]


def test_lanes_cut_at_their_own_clip_timestamps_share_a_batch_and_other_settings_do_not(model: WhisperModel) -> None:
    def lane(**transcribing) -> _Request:
        features = np.zeros((1, model.feature_extractor.mel_filters.shape[0], 3000), dtype=np.float32)
        return _Request(features, *_tokenizer_and_options(model, **transcribing))

    first = lane(end_s=1.0)
    assert first.joins(lane(end_s=1.5))
    assert not first.joins(lane(beam_size=2))
    assert not first.joins(lane(language="en"))
    assert not first.joins(lane(initial_prompt="您好"))


def test_a_dropped_pool_ends_its_threads(model: WhisperModel) -> None:
    def decoding_threads() -> set[threading.Thread]:  # other tests' pools may still be ending theirs
        return {t for t in threading.enumerate() if t.name.startswith("asr-window-pool") and t.is_alive()}

    before = decoding_threads()
    pool = WindowPool(model, max_windows=4, decoders=3)
    own = decoding_threads() - before
    assert len(own) == 3
    del pool
    gc.collect()
    deadline = time.monotonic() + 5
    while any(t.is_alive() for t in own) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.is_alive() for t in own)


def test_the_lanes_of_calls_transcribed_at_once_share_the_pools_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transcriber's own lanes, with everything it decodes them with (found by the GPU: its
    batches held 1.03 windows on average until lanes with their own clip timestamps could join)."""
    transcriber = Transcriber(AsrOptions(device="cpu", compute_type="int8", batched=True), default_models_dir(),
                              workers=4)
    # The pool a GPU's transcriber decodes in, with one decoding thread, here on the CPU.
    monkeypatch.setattr(transcriber, "_pool", WindowPool(transcriber._model, max_windows=16))
    transcripts = shortest_calls_at_once(transcriber, 4)
    assert all(transcript.segments for transcript in transcripts)
    batches, windows = transcriber.batch_fill
    assert windows >= 2 * len(transcripts)  # each call's two parties at least
    assert batches <= windows / 1.5, f"{windows} windows in {batches} batches: the calls' lanes did not share them"
