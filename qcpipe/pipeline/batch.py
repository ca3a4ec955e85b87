"""Run a batch of calls through ASR into the database.

- A call whose audio (content hash) and ASR settings are unchanged since it was processed is
  skipped, so re-running a command does no work twice and an interrupted run resumes where
  it stopped. A changed file is processed again.
- Workers decode and transcribe in parallel; only this thread writes to the database, one
  transaction per call, so a crash never leaves half a call.
- One bad call never stops the batch: it is recorded as failed with a one-line reason that
  names the file and the cause.
- The model is loaded only when some call needs transcribing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum

from qcpipe.asr import AsrOptions, Transcriber, Transcript, file_sha256, open_audio, resolve_device
from qcpipe.asr.transcriber import default_workers
from qcpipe.config import ChannelMap, PrivacySettings, Settings
from qcpipe.errors import AudioError, QcpipeError
from qcpipe.ingest import CallSource
from qcpipe.privacy import mask_transcript
from qcpipe.scoring import CallInput, Rulebook, score_call
from qcpipe.store import CallStatus, Database
from qcpipe.store import repository as repo
from qcpipe.store.repository import Timings

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class CallOutcome:
    call_id: str
    outcome: Outcome
    audio_s: float = 0.0
    error: str | None = None


@dataclass
class BatchSummary:
    """What a run did: the counts, the audio it transcribed, and how fast."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    failures: list[CallOutcome] = field(default_factory=list)

    @property
    def x_realtime(self) -> float:
        """Seconds of audio transcribed per second of wall time."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0

    def add(self, outcome: CallOutcome) -> None:
        if outcome.outcome is Outcome.DONE:
            self.done += 1
            self.audio_s += outcome.audio_s
        elif outcome.outcome is Outcome.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(outcome)


@dataclass(frozen=True)
class _Result:
    transcript: Transcript
    timings: Timings


def run_batch(
    sources: Iterable[CallSource],
    database: Database,
    transcriber: Callable[[], Transcriber],
    channel_map: ChannelMap = ChannelMap(),
    *,
    asr_fingerprint: str,
    workers: int = 1,
    retry_failed: bool = False,
    rulebook: Rulebook | None = None,
    on_outcome: Callable[[CallOutcome], None] | None = None,
    privacy: PrivacySettings = PrivacySettings(),
) -> BatchSummary:
    """Process every source; return the summary. `transcriber` is called once, only if needed.

    With a `rulebook`, each call is scored as it is stored (same transaction), and a skipped
    call scored with another rulebook is re-scored (no ASR needed). Personal numbers are masked
    before a transcript is stored, unless `privacy.store_heard_text`.
    """
    summary = BatchSummary()
    started = time.perf_counter()
    loaded: list[Transcriber] = []

    def get_transcriber() -> Transcriber:
        if not loaded:
            loaded.append(transcriber())
        return loaded[0]

    def report(outcome: CallOutcome) -> None:
        summary.add(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    todo = _pending(sources, database, asr_fingerprint, retry_failed, rulebook, report)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="asr") as pool:
        in_flight: dict[Future[_Result], tuple[CallSource, str]] = {}
        for source, content_hash in todo:
            model = get_transcriber()
            in_flight[pool.submit(_transcribe, model, source, channel_map)] = (source, content_hash)
            # Keep a bounded queue: the folder and manifest are streamed, not all held at once.
            if len(in_flight) >= 2 * max(1, workers):
                _store_finished(in_flight, database, rulebook, privacy, report)
        while in_flight:
            _store_finished(in_flight, database, rulebook, privacy, report)
    summary.wall_s = time.perf_counter() - started
    return summary


def _pending(
    sources: Iterable[CallSource],
    database: Database,
    asr_fingerprint: str,
    retry_failed: bool,
    rulebook: Rulebook | None,
    report: Callable[[CallOutcome], None],
) -> Iterator[tuple[CallSource, str]]:
    """The sources that need work, each with its content hash; the rest are reported skipped."""
    for source in sources:
        try:
            content_hash = file_sha256(source.audio_path)
        except OSError as exc:
            error = f"{source.audio_path}: cannot read: {exc.strerror or exc}"
            _store_failure(database, source, None, error, report)
            continue
        with database.transaction() as session:
            call = repo.find_call(session, source.call_id)
            up_to_date = repo.is_up_to_date(call, content_hash, asr_fingerprint, retry_failed=retry_failed)
            if up_to_date and rulebook and call.status == CallStatus.DONE and call.rulebook_hash != rulebook.content_hash:
                repo.save_score(session, call, score_call(repo.call_input(call), rulebook))
        if up_to_date:
            report(CallOutcome(source.call_id, Outcome.SKIPPED))
        else:
            yield source, content_hash


def _transcribe(model: Transcriber, source: CallSource, channel_map: ChannelMap) -> _Result:
    started = time.perf_counter()
    with open_audio(source.audio_path) as audio:  # streamed: a long call costs one block of memory
        transcript = model.transcribe(audio, channel_map)
    total = time.perf_counter() - started
    return _Result(transcript, Timings(decode_s=audio.decode_s, asr_s=total - audio.decode_s))


def _store_finished(
    in_flight: dict[Future[_Result], tuple[CallSource, str]],
    database: Database,
    rulebook: Rulebook | None,
    privacy: PrivacySettings,
    report: Callable[[CallOutcome], None],
) -> None:
    """Wait for at least one call to finish; store each finished one in its own transaction."""
    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
    for future in finished:
        source, content_hash = in_flight.pop(future)
        try:
            result = future.result()
        except AudioError as exc:
            _store_failure(database, source, content_hash, str(exc), report)
            continue
        except QcpipeError as exc:
            _store_failure(database, source, content_hash, f"{source.audio_path}: {exc}", report)
            continue
        except Exception as exc:  # one bad call must never stop the batch
            log.exception("unexpected error on %s", source.audio_path)
            _store_failure(database, source, content_hash, f"{source.audio_path}: {type(exc).__name__}: {exc}", report)
            continue
        # Scored as stored, so findings quote what the database holds and a re-score agrees.
        transcript = result.transcript if privacy.store_heard_text else mask_transcript(result.transcript, privacy)
        with database.transaction() as session:
            call = repo.save_transcript(session, source, content_hash, transcript, result.timings)
            if rulebook is not None:
                scored = score_call(CallInput.from_transcript(source.call_id, transcript, source.queue_wait_s), rulebook)
                repo.save_score(session, call, scored)
        report(CallOutcome(source.call_id, Outcome.DONE, audio_s=transcript.duration))


def _store_failure(
    database: Database, source: CallSource, content_hash: str | None, error: str, report: Callable[[CallOutcome], None]
) -> None:
    error = " ".join(error.split())  # one line, whatever the library's message looked like
    with database.transaction() as session:
        repo.save_failure(session, source, content_hash, error)
    report(CallOutcome(source.call_id, Outcome.FAILED, error=error))


def asr_options(settings: Settings) -> AsrOptions:
    """The recognition settings of a run, with "auto" device and precision resolved."""
    device, compute_type = resolve_device(settings.device, settings.compute_type)
    return AsrOptions(
        model=settings.model,
        device=device,
        compute_type=compute_type,
        beam_size=settings.beam_size,
        batched=device == "cuda" if settings.batched is None else settings.batched,
        batch_size=settings.batch_size,
        hotwords=settings.hotwords,
        initial_prompt=settings.initial_prompt,
    )


def transcribe_sources(
    settings: Settings,
    sources: Iterable[CallSource],
    database: Database,
    *,
    retry_failed: bool = False,
    rulebook: Rulebook | None = None,
    on_outcome: Callable[[CallOutcome], None] | None = None,
) -> BatchSummary:
    """`qcpipe run`: transcribe the calls with the configured model into the database, and score them."""
    options = asr_options(settings)
    workers = settings.workers or default_workers(options.device)
    return run_batch(
        sources,
        database,
        lambda: Transcriber(options, settings.models_dir, workers),
        settings.channels,
        asr_fingerprint=options.fingerprint(),
        workers=workers,
        retry_failed=retry_failed,
        rulebook=rulebook,
        on_outcome=on_outcome,
        privacy=settings.privacy,
    )
