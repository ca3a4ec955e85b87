"""Run a batch of calls through ASR into the database.

- A call whose audio (content hash) and ASR settings are unchanged since it was processed is
  skipped, so re-running a command does no work twice and an interrupted run resumes where
  it stopped. A changed file is processed again.
- Workers decode and transcribe in parallel; only this thread writes to the database, one
  transaction per call, so a crash (even kill -9) never leaves half a call.
- Several runs may share a folder and a database: a run claims each call before working on
  it (`CallClaim`), and another run finding the claim leaves the call alone. A killed run's
  claims are taken over by the next run.
- A file modified in the last `settle_s` (a folder copied in just before the run, a recorder
  finishing a call) is set aside while the others go on, and taken up once its settle time is
  over (see `qcpipe.ingest.settle`); only one still changing after that fails.
- One bad call never stops the batch: it is recorded as failed with a one-line reason that
  names the file and the cause. A call that failed because its file could not be read (still
  being written, missing, no permission) has no content hash and is tried again by the next
  run; one whose content is bad waits for `retry_failed`.
- Only a database that cannot be written (StoreError: locked for too long, full) stops the
  batch: no later call could be stored either.
- The model is loaded only when some call needs transcribing.
- A failed call an admin marked for retry (`Call.retry_requested_at`) is tried again as with
  `retry_failed`; the mark is cleared when the outcome of that try is stored.
- With `record_as`, the run keeps its own `BatchRun` row (see `qcpipe.pipeline.runs`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from qcpipe.asr import AsrOptions, Transcriber, Transcript, open_audio, resolve_device
from qcpipe.asr.transcriber import default_workers
from qcpipe.config import ChannelMap, PrivacySettings, Settings
from qcpipe.errors import AudioError, QcpipeError, StoreError, shown_path
from qcpipe.ingest import CallSource, SettledRecording, SettleWait, UnreadableRecording, settled_recordings
from qcpipe.privacy import mask_transcript
from qcpipe.pipeline import records
from qcpipe.pipeline.records import Timings
from qcpipe.pipeline.runs import RunRecord
from qcpipe.scoring import CallInput, Rulebook, score_call
from qcpipe.scoring.records import call_input, save_score
from qcpipe.store import Call, CallStatus, Database, claims
from qcpipe.store import repository as repo
from qcpipe.store.claims import RunOwner

log = logging.getLogger(__name__)

LEASE_S = 120.0  # a claim not renewed for this long belongs to a dead run
HEARTBEAT_S = 30.0  # how often a run renews its claims


class WorkersLost(QcpipeError):
    """The executor has no workers left (a cluster lost): the run stops, and the calls it had
    not stored are left for the next run, not recorded as failed (they did nothing wrong)."""


class Outcome(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"  # already done with this audio and these settings
    BUSY = "busy"  # another run is working on it
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
    busy: int = 0
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
        elif outcome.outcome is Outcome.BUSY:
            self.busy += 1
        else:
            self.failed += 1
            self.failures.append(outcome)


@dataclass(frozen=True)
class TranscribedCall:
    """What transcribing one call gives back to the run that stores it."""

    transcript: Transcript
    timings: Timings


class CallExecutor(Protocol):
    """Where a run's calls are transcribed: threads of this process (`LocalExecutor`, the
    default) or the workers of a Ray cluster (`qcpipe.pipeline.ray_executor`). The run stays
    the only writer: it claims each call, submits it here, and stores what comes back."""

    @property
    def slots(self) -> int:
        """How many calls to keep in flight at once."""
        ...

    def submit(self, source: CallSource) -> Future[TranscribedCall]:
        """Start transcribing `source`; the future fails with the call's own error (an
        AudioError names the file)."""
        ...

    def close(self, cancel: bool) -> None:
        """Free the workers (`cancel`: drop the calls not started yet)."""
        ...


class LocalExecutor:
    """Threads of this process sharing one model, loaded when the first call is submitted."""

    def __init__(self, transcriber: Callable[[], Transcriber], channel_map: ChannelMap = ChannelMap(),
                 workers: int = 1) -> None:
        self._load = transcriber
        self._model: Transcriber | None = None
        self._channel_map = channel_map
        self._workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="asr")

    @property
    def slots(self) -> int:
        return 2 * self._workers  # a call ready for each thread when it finishes one

    def submit(self, source: CallSource) -> Future[TranscribedCall]:
        if self._model is None:
            self._model = self._load()
        return self._pool.submit(transcribe_call, self._model, source, self._channel_map)

    def close(self, cancel: bool) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


@dataclass
class _Run:
    """One batch's shared state: where to store, who it is, how to report."""

    database: Database
    owner: RunOwner
    report: Callable[[CallOutcome], None]
    rulebook: Rulebook | None
    privacy: PrivacySettings
    on_beat: Callable[[], None] = lambda: None  # also done on each heartbeat (the run's own record)


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
    settle_s: float = 0.0,
    on_settle_wait: Callable[[SettleWait], None] | None = None,
    record_as: str | None = None,
    executor: CallExecutor | None = None,
) -> BatchSummary:
    """Process every source; return the summary. `transcriber` is called once, only if needed.
    With an `executor` (a Ray cluster's workers), calls are transcribed there instead of by
    `workers` threads of this process with `transcriber`'s model.

    With a `rulebook`, each call is scored as it is stored (same transaction), and a skipped
    call scored with another rulebook is re-scored (no ASR needed). Personal numbers are masked
    before a transcript is stored, unless `privacy.store_heard_text`. A file modified less than
    `settle_s` ago is processed once it has settled (`on_settle_wait` is told when the run
    waits for such files); one that changes meanwhile, or while read, is failed as still being
    written. With `record_as` (what the run was given: a folder or a file), the run is recorded
    as a `BatchRun` with its counts, and closed as finished or stopped (with the reason).
    Raises StoreError when the database cannot be written; calls stored until then are kept.
    """
    summary = BatchSummary()
    record = RunRecord(database, record_as) if record_as is not None else None
    started = time.perf_counter()
    executor = executor if executor is not None else LocalExecutor(transcriber, channel_map, workers)

    def report(outcome: CallOutcome) -> None:
        summary.add(outcome)
        if record is not None:
            record.progress(summary)
        if on_outcome is not None:
            on_outcome(outcome)

    def beat() -> None:
        if record is not None:
            record.progress(summary, force=True)

    run = _Run(database, RunOwner(), report, rulebook, privacy, beat)
    in_flight: dict[Future[TranscribedCall], tuple[CallSource, str]] = {}

    def pass_time(seconds: float) -> None:
        """Wait for files to settle, storing the calls that finish meanwhile."""
        until = time.monotonic() + seconds
        while in_flight and (left := until - time.monotonic()) > 0:
            _store_finished(in_flight, run, timeout=left)
        if (left := until - time.monotonic()) > 0:
            time.sleep(left)

    def announce_wait(waiting: SettleWait) -> None:
        log.info("%s", waiting.describe())
        if on_settle_wait is not None:
            on_settle_wait(waiting)

    recordings = settled_recordings(sources, settle_s, wait=pass_time, on_wait=announce_wait)
    try:
        with _Heartbeat(run):
            for source, content_hash in _pending(recordings, run, asr_fingerprint, retry_failed):
                in_flight[executor.submit(source)] = (source, content_hash)
                # Keep a bounded queue: the folder and manifest are streamed, not all held at once.
                if len(in_flight) >= executor.slots:
                    _store_finished(in_flight, run)
            while in_flight:
                _store_finished(in_flight, run)
    except BaseException as exc:
        if record is not None:
            record.finish(summary, error=_why_stopped(exc))
        raise
    finally:
        executor.close(cancel=bool(in_flight))
        _release_claims(run)  # after an error or Ctrl-C, leave nothing claimed
    summary.wall_s = time.perf_counter() - started
    if record is not None:
        record.finish(summary)
    return summary


def _why_stopped(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGINT)"
    return " ".join(f"{type(exc).__name__}: {exc}".split())


class _Heartbeat:
    """Renews the run's claims every HEARTBEAT_S, so other runs know it is alive."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="claims-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                with self._run.database.transaction() as session:
                    claims.renew_claims(session, self._run.owner)
            except Exception:  # a missed beat only risks another run taking over late claims
                log.warning("could not renew this run's call claims", exc_info=True)
            self._run.on_beat()

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _pending(
    recordings: Iterable[SettledRecording | UnreadableRecording], run: _Run, asr_fingerprint: str, retry_failed: bool
) -> Iterator[tuple[CallSource, str]]:
    """The sources that need work, each with its content hash, claimed for this run; the
    rest are reported skipped (done already), busy (claimed by another run) or failed."""
    for recording in recordings:
        source = recording.source
        if isinstance(recording, UnreadableRecording):
            _store_failure(run, source, None, str(recording.error))
            continue
        content_hash = recording.content_hash
        stale = False
        try:
            with run.database.claim_transaction() as session:
                call = repo.find_call(session, source.call_id)
                retry = retry_failed or (call is not None and call.retry_requested_at is not None)
                up_to_date = repo.is_up_to_date(call, content_hash, asr_fingerprint, retry_failed=retry)
                holder = None
                if up_to_date:
                    stale = _is_stale(call, run.rulebook)
                else:
                    holder = claims.claim_call(session, source.call_id, run.owner, LEASE_S)
        except IntegrityError:  # another database client claimed it in the same instant
            holder = True
        if stale:  # re-scored in a transaction of its own: a run beside this one may do it first
            with run.database.transaction() as session:
                call = repo.find_call(session, source.call_id)
                if _is_stale(call, run.rulebook):
                    assert call is not None and run.rulebook is not None
                    save_score(session, call, score_call(call_input(call), run.rulebook))
        if up_to_date:
            run.report(CallOutcome(source.call_id, Outcome.SKIPPED))
        elif holder is not None:
            run.report(CallOutcome(source.call_id, Outcome.BUSY))
        else:
            yield source, content_hash


def _is_stale(call: Call | None, rulebook: Rulebook | None) -> bool:
    """A done call scored with another rulebook than the run's."""
    return (rulebook is not None and call is not None and call.status == CallStatus.DONE
            and call.rulebook_hash != rulebook.content_hash)


def transcribe_call(model: Transcriber, source: CallSource, channel_map: ChannelMap) -> TranscribedCall:
    """Transcribe one call's recording with `model` (where the executor runs it)."""
    started = time.perf_counter()
    with open_audio(source.audio_path) as audio:  # streamed: a long call costs one block of memory
        transcript = model.transcribe(audio, channel_map)
    total = time.perf_counter() - started
    return TranscribedCall(transcript, Timings(decode_s=audio.decode_s, asr_s=total - audio.decode_s))


def _store_finished(
    in_flight: dict[Future[TranscribedCall], tuple[CallSource, str]], run: _Run, timeout: float | None = None
) -> None:
    """Wait for at least one call to finish (or `timeout` seconds); store each finished one in
    its own transaction."""
    finished, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
    for future in finished:
        source, content_hash = in_flight.pop(future)
        try:
            result = future.result()
        except WorkersLost:
            raise
        except AudioError as exc:
            _store_failure(run, source, content_hash, str(exc))
            continue
        except QcpipeError as exc:
            _store_failure(run, source, content_hash, f"{shown_path(source.audio_path)}: {exc}")
            continue
        except Exception as exc:  # one bad call must never stop the batch
            log.exception("unexpected error on %s", shown_path(source.audio_path))
            _store_failure(run, source, content_hash, f"{shown_path(source.audio_path)}: {type(exc).__name__}: {exc}")
            continue
        try:
            _store_transcript(run, source, content_hash, result)
        except StoreError:
            raise
        except Exception as exc:  # a call the store or the rules choke on is that call's failure
            log.exception("cannot store %s", source.call_id)
            _store_failure(run, source, content_hash, f"{shown_path(source.audio_path)}: cannot store or score: "
                                                      f"{type(exc).__name__}: {exc}")


def _store_transcript(run: _Run, source: CallSource, content_hash: str, result: TranscribedCall) -> None:
    """The call, its score and the end of its claim, in one transaction."""
    # Scored as stored (the masked text), so findings quote what the database holds and a
    # re-score agrees; scored before the transaction, which then only writes rows: a run
    # holds SQLite's one write lock for milliseconds, and a second run beside it seldom waits.
    transcript = result.transcript
    if not run.privacy.store_heard_text:
        transcript = mask_transcript(transcript, run.privacy)
    scored = None
    if run.rulebook is not None:
        scored = score_call(CallInput.from_transcript(source.call_id, transcript, source.queue_wait_s), run.rulebook)
    with run.database.transaction() as session:
        duplicate = _stored_already(repo.find_call(session, source.call_id), content_hash, transcript)
        if not duplicate:
            call = records.save_transcript(session, source, content_hash, transcript, result.timings)
            _clear_retry_mark(call)
            if scored is not None:
                save_score(session, call, scored)
        claims.release_claims(session, run.owner, source.call_id)
    if duplicate:
        # Another run stored this very call meanwhile (it took over a claim this run was too
        # slow to renew): the call is kept once, as first stored.
        log.warning("%s was stored by another run while this one transcribed it: the second result is dropped",
                    source.call_id)
        run.report(CallOutcome(source.call_id, Outcome.BUSY))
    else:
        run.report(CallOutcome(source.call_id, Outcome.DONE, audio_s=transcript.duration))


def _stored_already(call: Call | None, content_hash: str, transcript: Transcript) -> bool:
    """This audio is stored as transcribed with these ASR settings (a failure does not count),
    and no retry is asked for."""
    return (repo.is_up_to_date(call, content_hash, transcript.options.fingerprint(), retry_failed=True)
            and call is not None and call.retry_requested_at is None)


def _store_failure(run: _Run, source: CallSource, content_hash: str | None, error: str) -> None:
    error = " ".join(error.split())  # one line, whatever the library's message looked like
    with run.database.transaction() as session:
        _clear_retry_mark(records.save_failure(session, source, content_hash, error))
        claims.release_claims(session, run.owner, source.call_id)
    run.report(CallOutcome(source.call_id, Outcome.FAILED, error=error))


def _clear_retry_mark(call: Call) -> None:
    """The retry an admin asked for was made: its outcome is what the call now shows."""
    call.retry_requested_at = call.retry_requested_by = None


def _release_claims(run: _Run) -> None:
    try:
        with run.database.transaction() as session:
            claims.release_claims(session, run.owner)
    except Exception:  # the next run takes dead claims over anyway
        log.warning("could not release this run's call claims", exc_info=True)


def asr_options(settings: Settings, rulebook: Rulebook | None = None) -> AsrOptions:
    """The recognition settings of a run, with "auto" device and precision resolved ("auto" as
    this machine would; with Ray workers, `--device cuda` is their GPUs, not this machine's);
    with a `rulebook`, its script phrases to read again (`[asr] reread_script`)."""
    device, compute_type = resolve_device(settings.device, settings.compute_type, here=settings.executor == "local")
    return AsrOptions(
        model=settings.model,
        device=device,
        compute_type=compute_type,
        beam_size=settings.beam_size,
        batched=device == "cuda" if settings.batched is None else settings.batched,
        batch_size=settings.batch_size,
        gpu_decoders=settings.gpu_decoders,
        gpu_batch_min_windows=settings.gpu_batch_min_windows,
        hotwords=settings.hotwords,
        initial_prompt=settings.initial_prompt,
        remove_crosstalk=settings.remove_crosstalk,
        background_below_db=settings.background_below_db,
        lost_speech_s=settings.lost_speech_s,
        rehear_room_s=settings.rehear_room_s,
        encode_padding_s=settings.encode_padding_s,
        greedy_first_pass=settings.greedy_first_pass,
        sure_log_prob=settings.sure_log_prob,
        restrict_vocabulary=settings.restrict_vocabulary,
        script_phrases=rulebook.script_phrases() if rulebook is not None and settings.reread_script else (),
    )


def transcribe_sources(
    settings: Settings,
    sources: Iterable[CallSource],
    database: Database,
    *,
    retry_failed: bool = False,
    rulebook: Rulebook | None = None,
    on_outcome: Callable[[CallOutcome], None] | None = None,
    on_settle_wait: Callable[[SettleWait], None] | None = None,
    record_as: str | None = None,
) -> BatchSummary:
    """`qcpipe run`: transcribe the calls with the configured model into the database, and score them.
    The calls are transcribed by this process's threads, or by a Ray cluster's workers
    (`settings.executor`)."""
    options = asr_options(settings, rulebook)
    workers = settings.workers or default_workers()
    executor: CallExecutor | None = None
    if settings.executor == "ray":
        # Imported only when chosen: the local path never needs Ray installed.
        from qcpipe.pipeline.ray_executor import GPU_WORKER_CALLS, RayExecutor

        executor = RayExecutor(options, settings.models_dir, settings.channels, address=settings.ray_address,
                               cpu_threads=settings.ray_cpus_per_worker,
                               workers_per_gpu=settings.ray_workers_per_gpu,
                               gpu_calls=settings.workers or GPU_WORKER_CALLS)
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
        settle_s=settings.settle_s,
        on_settle_wait=on_settle_wait,
        record_as=record_as,
        executor=executor,
    )
