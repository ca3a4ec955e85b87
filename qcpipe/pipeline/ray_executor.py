"""Calls transcribed on the workers of a Ray cluster (`qcpipe run --executor ray`).

The run stays where it was started, and stays the only writer of the database: it claims each
call, submits it here, and stores what comes back (see `qcpipe.pipeline.batch`). What moves to
the cluster is the transcription:

- One worker (a Ray actor) per GPU when the model runs on CUDA (or `workers_per_gpu` per GPU,
  each its own process with its own copy of the model), else one per `cpu_threads` cores of
  the cluster. Each loads the model once, from `models_dir`, a local path that must
  exist on every node (as must qcpipe itself, and the recordings, at the same paths: a worker
  reads a call's audio itself, so no decoded audio crosses the network).
- A worker gives back the call's transcript (segments, words, speech timelines), or the call's
  own error (an AudioError naming the file), which the run records as that call's failure.
- A worker lost with its node (or its process) is dropped, and its calls go to the workers
  left, at most `MAX_ATTEMPTS` times each: a duplicate is harmless, the run stores a call once.
  When none is left, new workers are started on what remains of the cluster (waiting at most
  `start_timeout_s`, but only `START_GRACE_S` when nothing is left that could hold one); when
  none can start, the run stops, saying so (`WorkersLost`), and the calls it had not stored are
  left for the next run.

The device and precision are those the run resolved where it was started (`asr_options`): "auto"
is what that machine has; `--device cuda` is the workers' GPUs, whether or not the run's machine
has one (a cluster without GPUs then says so). A worker's numpy BLAS runs on as many threads as the worker has cores (as Ray sets it anyway): the
order of its sums can tip a word of a transcript, which is then that of a local run with as many.

Ray is an optional dependency (`pip install 'qcpipe[ray]'`), imported only here, and only when
a `RayExecutor` is made: the local path never needs it. Ray's usage statistics are switched
off, and no dashboard is started.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import threading
import time
import traceback
from concurrent.futures import Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from qcpipe.asr import AsrOptions, Transcriber
from qcpipe.config import ChannelMap
from qcpipe.errors import ConfigError, QcpipeError
from qcpipe.ingest import CallSource
from qcpipe.pipeline.batch import TranscribedCall, WorkersLost, transcribe_call

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a call whose worker is lost is sent again, up to this many tries in all
CONNECT_TIMEOUT_S = 10.0  # how long the cluster's head may take to answer
START_TIMEOUT_S = 120.0  # how long to wait for workers to start (placed and the model loaded)
START_GRACE_S = 10.0  # the least time the other workers are given once the first has started
GPU_WORKER_CALLS = 16  # calls a GPU worker holds at once (16 preparing threads: 159× realtime on an H200)
_POLL_S = 0.25  # how often the result thread looks at newly submitted calls
BATCH_FILL_TIMEOUT_S = 5.0  # how long closing waits for a worker's count of its GPU batches


def _import_ray() -> ModuleType:
    """Ray, with its usage statistics off (read when Ray is imported and started)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray executor needs Ray: pip install 'qcpipe[ray]'") from None
    return ray


@dataclass(frozen=True)
class _Failed:
    """An error raised on a worker, carried back in a form that always unpickles: an exception
    whose constructor takes other arguments than its message (AudioError takes the path and the
    cause) does not unpickle as Ray would send it."""

    error_type: type[BaseException]
    args: tuple[Any, ...]
    state: dict[str, Any]

    @classmethod
    def of(cls, exc: BaseException) -> _Failed:
        if not isinstance(exc, QcpipeError):  # a bug, not a bad call: keep where it happened
            exc.add_note(f"on Ray worker {socket.gethostname()}:\n{''.join(traceback.format_exception(exc)).rstrip()}")
        failed = cls(type(exc), exc.args, dict(vars(exc)))
        try:
            pickle.dumps(failed)
        except Exception:  # an attribute that does not travel: the type and message still do
            return cls(RuntimeError, (f"{type(exc).__name__}: {exc}",), {})
        return failed

    def rebuild(self) -> BaseException:
        exc = self.error_type.__new__(self.error_type)  # its __init__ may want other arguments
        exc.args = self.args
        vars(exc).update(self.state)
        return exc


class _TranscriberWorker:
    """A Ray actor: one loaded model, transcribing calls read from their shared paths."""

    def __init__(self, options: AsrOptions, models_dir: Path, channel_map: ChannelMap, cpu_threads: int,
                 concurrency: int) -> None:
        self._channel_map = channel_map
        self._model: Transcriber | None = None
        self._error: _Failed | None = None
        # Transcriber gives each of its `workers` an equal share of the node's cores; this
        # actor owns `cpu_threads` of them (Ray gives the others to other actors), so it asks
        # for as many workers as make its calls run on that many threads each. On CPU the
        # workers share one copy of the weights, and this actor runs one call at a time.
        workers = concurrency if options.device == "cuda" else max(1, (os.cpu_count() or 1) // cpu_threads)
        try:
            self._model = Transcriber(options, models_dir, workers)
        except Exception as exc:  # reported by ready(): a model missing on a node stops the run
            self._error = _Failed.of(exc)

    def ready(self) -> str | _Failed:
        """The node this worker runs on, once its model is loaded; or why it could not load."""
        return self._error or socket.gethostname()

    def batch_fill(self) -> tuple[int, int] | None:
        """Its model's GPU batches so far and the windows in them (Transcriber.batch_fill)."""
        return self._model.batch_fill if self._model else None

    def transcribe(self, source: CallSource) -> TranscribedCall | _Failed:
        assert self._model is not None
        try:
            return transcribe_call(self._model, source, self._channel_map)
        except Exception as exc:  # the call's own error: that call fails, the run goes on
            return _Failed.of(exc)


@dataclass(eq=False)
class _Worker:
    """A started actor, where it runs, and how many calls it has in hand."""

    actor: Any
    node: str
    in_hand: int = 0


@dataclass(eq=False)
class _Call:
    """A submitted call: the future the run waits on, and its tries so far."""

    source: CallSource
    future: Future[TranscribedCall] = field(default_factory=Future)
    attempts: int = 0


class RayExecutor:
    """Transcribes a run's calls on the workers of a Ray cluster (see the module docstring).

    address: "auto" (the cluster this machine is part of), "HOST:PORT" of its head, or None to
        start a Ray runtime on this machine (or join $RAY_ADDRESS when set). A runtime it
        started is shut down by `close`; a cluster it joined is left running.
    cpu_threads: cores per worker on CPU (each worker decodes one call at a time on that many
        threads; one thread is the local path's choice: calls side by side use cores best).
    workers_per_gpu: workers sharing each GPU on CUDA, each a process of its own: a worker's
        threads preparing calls share one interpreter (its GIL), which can keep them from
        feeding a fast card; several processes each feed it their share. The card's decoding
        threads (`gpu_decoders`) are shared out among them, so it runs as many streams as with
        one worker; each worker holds `gpu_calls` calls, since a process feeds its share of the
        card only with calls enough to prepare. On an H200 with 16 cores (the dev corpus
        8×, once started): 432× realtime with 2 workers against 235× for the local path's one
        process, the card busy all the time against 55-60 % of it (nvidia-smi dmon); 3 workers
        made 427×, and 391× with the 16 calls shared out among them.
    gpu_calls: calls each worker holds on CUDA, each prepared by a thread of its own while the
        model decodes the windows of all of them together (`[asr] workers` when set).
    """

    def __init__(self, options: AsrOptions, models_dir: Path, channel_map: ChannelMap = ChannelMap(), *,
                 address: str | None = None, cpu_threads: int = 1, workers_per_gpu: int = 1,
                 gpu_calls: int = GPU_WORKER_CALLS, start_timeout_s: float = START_TIMEOUT_S) -> None:
        if cpu_threads < 1:
            raise ConfigError(f"Ray workers need at least 1 CPU thread each, not {cpu_threads}")
        if workers_per_gpu < 1:
            raise ConfigError(f"Ray workers per GPU: at least 1, not {workers_per_gpu}")
        if gpu_calls < 1:
            raise ConfigError(f"calls a Ray GPU worker holds: at least 1, not {gpu_calls}")
        self._ray = _import_ray()
        self._gpu = options.device == "cuda"
        if self._gpu:
            options = replace(options, gpu_decoders=max(1, options.gpu_decoders // workers_per_gpu))
        self._options = options  # as the workers decode
        self._models_dir = Path(models_dir)
        self._channel_map = channel_map
        self._address = address
        self._cpu_threads = cpu_threads
        self._workers_per_gpu = workers_per_gpu
        self._start_timeout_s = start_timeout_s
        # On GPU a worker takes many calls at a time: its threads prepare them while its model
        # decodes their windows together (asr.batching). Not shared out among the workers on a
        # card: that held 3 workers at 391× realtime, 427× with each holding 16.
        self._concurrency = gpu_calls if self._gpu else 1
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._running: dict[Any, tuple[_Call, _Worker]] = {}  # Ray object ref → call, worker
        self._waiting: list[_Call] = []  # submitted while no worker is there (being replaced)
        self._broken: QcpipeError | None = None  # set once no worker is left, or closed
        self._started = False  # the workers were started (once: a closed executor stays closed)
        self._started_ray = False
        self._closing = threading.Event()
        self._results = threading.Thread(target=self._collect, name="ray-results", daemon=True)
        # The workers' GPU batches and the windows in them, read when the executor closes.
        self.batch_fill: tuple[int, int] | None = None

    @property
    def slots(self) -> int:
        with self._lock:
            return 2 * self._concurrency * max(1, len(self._workers))  # a call waiting for each slot

    def start(self) -> None:
        """Join (or start) Ray and wait for the workers to load the model; done by the first
        `submit` otherwise. Raises ModelError when a worker cannot load the model, and
        QcpipeError when no worker starts in time."""
        if self._started:
            return
        self._connect()
        workers = self._launch()
        with self._lock:
            self._workers = workers
        self._started = True
        self._results.start()

    def submit(self, source: CallSource) -> Future[TranscribedCall]:
        self.start()
        call = _Call(source)
        with self._lock:
            if self._broken is not None:
                raise self._broken  # the run stops: the calls not done are left for the next run
            self._dispatch(call)
        return call.future

    def close(self, cancel: bool) -> None:
        if not cancel:
            with self._lock:
                futures = [call.future for call, _ in self._running.values()] + [c.future for c in self._waiting]
            wait(futures)
        self._closing.set()
        if self._results.is_alive():
            self._results.join()
        if self._gpu and not cancel:
            self._read_batch_fill()
        with self._lock:
            for call in [call for call, _ in self._running.values()] + self._waiting:
                call.future.cancel()
            self._running.clear()
            self._waiting.clear()
            self._broken = QcpipeError("the Ray executor is closed")
            for worker in self._workers:
                self._kill(worker)
            self._workers = []
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False

    def _read_batch_fill(self) -> None:
        """Sum and log how full the workers' GPU batches ran: with the card busy, fuller batches
        are what makes it faster. A worker that does not answer in time is left out."""
        with self._lock:
            actors = [worker.actor for worker in self._workers]
        batches = windows = 0
        for ref in [actor.batch_fill.remote() for actor in actors]:
            try:
                fill = self._ray.get(ref, timeout=BATCH_FILL_TIMEOUT_S)
            except Exception:  # noqa: BLE001 (a worker lost or busy: its count is not needed to finish)
                continue
            if fill:
                batches, windows = batches + fill[0], windows + fill[1]
        if batches:
            self.batch_fill = (batches, windows)
            log.info("the Ray workers decoded %d windows in %d GPU batches (%.1f a batch)",
                     windows, batches, windows / batches)

    # --- connecting and starting workers

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():  # this process joined a cluster already: use that one
            return
        where = self._address or os.environ.get("RAY_ADDRESS")
        if where and where != "auto":
            _check_reachable(where)
        self._started_ray = where is None
        try:
            ray.init(address=self._address, ignore_reinit_error=True, include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            self._started_ray = False
            raise ConfigError(f"cannot join the Ray cluster at {where or 'this machine'}: {_first_line(exc)}") from None

    def _needs(self) -> tuple[str, float]:
        """What one worker takes of the cluster: GPUs (a share of one), or CPU cores."""
        if self._gpu:
            # Ray counts a GPU's shares to 4 decimals: a third is 0.3333, and three fit on one.
            return "GPU", round(1 / self._workers_per_gpu, 4)
        return "CPU", self._cpu_threads

    def _capacity(self, resources: dict[str, float]) -> int:
        """How many workers the cluster's resources hold."""
        kind, need = self._needs()
        if self._gpu:
            return int(resources.get(kind, 0)) * self._workers_per_gpu
        return int(resources.get(kind, 0) // need)

    def _room_for_workers(self) -> dict[str, float]:
        """The cluster's resources, once they hold a worker, or after `START_GRACE_S`: a node
        that has just joined (one restarted after a loss) takes a moment to be counted."""
        until = time.monotonic() + min(START_GRACE_S, self._start_timeout_s)
        while not self._capacity(resources := self._ray.cluster_resources()) and time.monotonic() < until:
            time.sleep(0.5)
        return resources

    def _shortage(self, resources: dict[str, float]) -> str:
        """What a worker needs against what the cluster has, for the run's message."""
        kind, need = self._needs()
        return f"each needs {need:g} {kind}; the cluster has {resources.get(kind, 0):g} {kind}"

    def _launch(self) -> list[_Worker]:
        """Start as many workers as the cluster's resources hold and wait for their models to
        load; those not started within `start_timeout_s` are given up."""
        ray = self._ray
        resources = self._room_for_workers()
        count = self._capacity(resources)
        if count == 0:
            # Nothing could place even one worker (the cluster lost its nodes, or has no GPU):
            # said after a short grace, not after `start_timeout_s` of waiting for what is not there.
            raise QcpipeError(f"no Ray transcription worker can start: {self._shortage(resources)}")
        needs = {"num_cpus": self._cpu_threads} | ({"num_gpus": self._needs()[1]} if self._gpu else {})
        # numpy's BLAS (the audio features) on as many threads as the worker has cores: Ray's own
        # default, made sure of here, since the sums' order can tip a word of the transcript.
        threads = {"env_vars": {"OMP_NUM_THREADS": str(self._cpu_threads)}}
        actor_class = ray.remote(_TranscriberWorker).options(max_concurrency=self._concurrency, runtime_env=threads,
                                                             **needs)
        actors = [actor_class.remote(self._options, self._models_dir, self._channel_map, self._cpu_threads,
                                     self._concurrency) for _ in range(count)]
        ready_refs = {actor.ready.remote(): actor for actor in actors}
        began = time.monotonic()
        ready, late = ray.wait(list(ready_refs), num_returns=1, timeout=self._start_timeout_s)
        if ready and late:
            # The others load the same model: one not started well after the first is waiting
            # for resources the cluster no longer has (a node just lost, or taken by other work).
            elapsed = time.monotonic() - began
            grace = min(max(START_GRACE_S, 2 * elapsed), self._start_timeout_s - elapsed)
            more, late = ray.wait(late, num_returns=len(late), timeout=max(0.0, grace))
            ready += more
        workers: list[_Worker] = []
        failure: _Failed | None = None
        for ref in ready:
            try:
                answer = ray.get(ref)
            except ray.exceptions.RayError as exc:  # lost while starting (its node went down)
                log.warning("a Ray transcription worker was lost while starting: %s", _first_line(exc))
                continue
            if isinstance(answer, _Failed):
                failure = answer
            else:
                workers.append(_Worker(ready_refs[ref], answer))
        for ref in late:
            ray.kill(ready_refs[ref], no_restart=True)
        if late:
            log.warning("%d Ray transcription worker(s) not started in time, given up", len(late))
        if failure is not None:
            for worker in workers:
                self._kill(worker)
            raise failure.rebuild()
        if not workers:
            raise QcpipeError(f"no Ray transcription worker started within {self._start_timeout_s:.0f} s "
                              f"({self._shortage(resources)})")
        nodes = sorted({worker.node for worker in workers})
        log.info("%d Ray transcription worker(s) on %s", len(workers), ", ".join(nodes))
        return workers

    def _kill(self, worker: _Worker) -> None:
        try:
            self._ray.kill(worker.actor, no_restart=True)
        except Exception:  # already gone with its node
            pass

    # --- calls in flight

    def _dispatch(self, call: _Call) -> None:
        """Hand `call` to the worker with the fewest calls in hand; while there is none (new
        ones are starting), keep it for them (lock held)."""
        if not self._workers:
            self._waiting.append(call)
            return
        worker = min(self._workers, key=lambda w: w.in_hand)
        call.attempts += 1
        worker.in_hand += 1
        self._running[worker.actor.transcribe.remote(call.source)] = (call, worker)

    def _collect(self) -> None:
        """The result thread: completes each call's future as its worker answers."""
        ray = self._ray
        while not self._closing.is_set():
            with self._lock:
                refs = list(self._running)
            if not refs:
                self._closing.wait(_POLL_S)
                continue
            try:
                ready, _ = ray.wait(refs, num_returns=1, timeout=_POLL_S)
                for ref in ready:
                    self._settle(ref)
            except Exception as exc:  # the thread must not die silently, leaving calls waiting forever
                log.exception("the Ray result thread failed")
                self._fail_all(WorkersLost(f"the Ray executor failed: {type(exc).__name__}: {exc}"))
                return

    def _settle(self, ref: Any) -> None:
        ray = self._ray
        with self._lock:
            entry = self._running.pop(ref, None)
            if entry is None:
                return
            call, worker = entry
            worker.in_hand -= 1
        lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError)
        try:
            answer = ray.get(ref)
        except lost as exc:
            self._retry(call, worker, exc)
            return
        except ray.exceptions.RayTaskError as exc:
            call.future.set_exception(exc.cause if isinstance(exc.cause, Exception) else exc)
            return
        except Exception as exc:
            call.future.set_exception(exc)
            return
        if isinstance(answer, _Failed):
            call.future.set_exception(answer.rebuild())
        else:
            call.future.set_result(answer)

    def _retry(self, call: _Call, worker: _Worker, exc: BaseException) -> None:
        """`worker` was lost with `call` in hand: drop it, and send the call to another."""
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
                self._kill(worker)
                log.warning("Ray transcription worker on %s lost (%s); %d left", worker.node, _first_line(exc),
                            len(self._workers))
            none_left = not self._workers
        if call.attempts >= MAX_ATTEMPTS:
            call.future.set_exception(QcpipeError(
                f"its Ray transcription worker was lost {call.attempts} times (last: {_first_line(exc)})"))
            return
        if none_left and not self._relaunch():
            call.future.set_exception(self._broken or WorkersLost("no Ray transcription workers left"))
            return
        with self._lock:
            log.warning("%s sent again to another Ray transcription worker (try %d of %d)",
                        call.source.call_id, call.attempts + 1, MAX_ATTEMPTS)
            self._dispatch(call)

    def _relaunch(self) -> bool:
        """Start new workers on what is left of the cluster; False (and the executor broken,
        the calls in flight failed) when none starts."""
        log.warning("no Ray transcription worker left: starting new ones on the cluster's remaining resources")
        try:
            workers = self._launch()
        except Exception as exc:
            self._fail_all(WorkersLost(f"no Ray transcription workers left, and none could be started again: "
                                       f"{_first_line(exc)}"))
            return False
        with self._lock:
            self._workers = workers
            waiting, self._waiting = self._waiting, []
            for call in waiting:
                self._dispatch(call)
        return True

    def _fail_all(self, error: WorkersLost) -> None:
        """Fail every call in flight with `error`, and refuse new ones: the run stops, and the
        calls not done are left for the next run."""
        with self._lock:
            self._broken = error
            calls = [call for call, _ in self._running.values()] + self._waiting
            self._running.clear()
            self._waiting.clear()
        for call in calls:
            call.future.set_exception(error)


def _check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ConfigError unless the head at HOST:PORT answers: Ray itself would keep trying for
    minutes, with the run showing nothing but its progress bar."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"Ray address {address!r}: 'auto' or HOST:PORT of the cluster's head")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster's head at {address}: {exc.strerror or exc}") from None


def _first_line(exc: BaseException) -> str:
    """Ray's messages run over many lines (ids, addresses): the first says what happened."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
