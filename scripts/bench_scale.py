#!/usr/bin/env python
"""Throughput of `qcpipe run` on this machine's threads and on Ray workers, on the same calls.

Runs the same dev-corpus calls (default: the 8 shortest, about 21–27 s each) through the whole
pipeline (ASR with the embedded Whisper base on CPU int8, scoring with the default rulebook,
one SQLite transaction per call), each time into a fresh temporary SQLite database, as:

- local: `run_batch` with the local executor, 1 then 2 calls side by side, one decoder thread
  each (the local path's own choice on CPU): 1 and 2 cores;
- Ray on a `ray.cluster_utils.Cluster` of this machine (a head that runs nothing, the script
  its driver and only database writer): 1 worker node of 1 CPU (1 worker, 1 thread: 1 core);
  1 node of 2 CPUs with 2-thread workers (1 worker, 2 threads: 2 cores); 2 nodes of 1 CPU
  (2 workers, 1 thread each: 2 cores).

It prints each run's x-realtime (seconds of audio per second of wall time), and Ray's over the
local path's on as many cores. The wall time counts the run (submitting, transcribing, storing,
scoring); the model load (local) and the workers' start (Ray: placing the actors and loading the
model on each) are excluded, and shown apart in "start s", as is the cluster's own start. The
numbers are those of this machine's cores only: Ray's nodes here share them, so this measures
Ray's overhead, not a real cluster's gain. Numpy's BLAS (the audio features) runs on all of the
machine's cores in each local call (numpy's default; `--blas-threads 1` for one, as a Ray worker
of one CPU has) and on the worker's CPUs on Ray.

    .venv/bin/python scripts/bench_scale.py [--calls 8] [--blas-threads N] [--corpus ../shared/corpus/dev]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qcpipe.asr import AsrOptions, Transcriber
from qcpipe.config import default_models_dir
from qcpipe.ingest import CallSource, read_manifest
from qcpipe.pipeline import BatchSummary, run_batch
from qcpipe.pipeline.batch import CallExecutor, LocalExecutor
from qcpipe.scoring import load_rulebook
from qcpipe.store import open_database

REPO = Path(__file__).resolve().parents[1]
OPTIONS = AsrOptions(device="cpu", compute_type="int8")
NODE_MEMORY = 80 * 2**20  # each node's object store: results are a few hundred kB at most


@dataclass(frozen=True)
class Result:
    name: str
    cores: int
    summary: BatchSummary
    start_s: float  # model load / workers' start, not in the run's wall time


def shortest_calls(corpus: Path, count: int) -> list[CallSource]:
    import soundfile

    sources = list(read_manifest(corpus / "calls.csv"))
    sources.sort(key=lambda source: soundfile.info(str(source.audio_path)).duration)
    return sources[:count]


def timed_run(sources: list[CallSource], executor: CallExecutor) -> BatchSummary:
    """One run of `sources` through `executor` into a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as tmp:
        database = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            summary = run_batch(sources, database, _no_model, asr_fingerprint=OPTIONS.fingerprint(),
                                rulebook=load_rulebook(), executor=executor)
        finally:
            database.dispose()
    if summary.failed:
        raise SystemExit(f"calls failed: {summary.failures}")
    return summary


def _no_model() -> Transcriber:
    raise AssertionError("each executor here has its model loaded already")


def run_local(sources: list[CallSource], calls: int) -> Result:
    """`calls` calls side by side in this process, each decoded on one thread."""
    started = time.perf_counter()
    # Transcriber gives each of its workers an equal share of the cores: one each here.
    model = Transcriber(OPTIONS, default_models_dir(), workers=os.cpu_count() or 1)
    loaded = time.perf_counter() - started
    summary = timed_run(sources, LocalExecutor(lambda: model, workers=calls))
    return Result(f"local, {calls} call{'s' * (calls > 1)} × 1 thread", calls, summary, loaded)


def run_ray(sources: list[CallSource], nodes: int, cpus: int) -> Result:
    """On a cluster of `nodes` worker nodes of `cpus` CPUs each, workers of `cpus` threads."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # read when Ray is imported
    import ray
    from ray.cluster_utils import Cluster

    from qcpipe.pipeline.ray_executor import RayExecutor

    began = time.perf_counter()
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "object_store_memory": NODE_MEMORY, "include_dashboard": False})
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=cpus, object_store_memory=NODE_MEMORY)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        print(f"  (cluster of {nodes} node(s) × {cpus} CPU up in {time.perf_counter() - began:.1f} s)", file=sys.stderr)
        executor = RayExecutor(OPTIONS, default_models_dir(), cpu_threads=cpus)
        started = time.perf_counter()
        executor.start()
        start_s = time.perf_counter() - started
        summary = timed_run(sources, executor)
    finally:
        ray.shutdown()
        cluster.shutdown()
    workers = f"{nodes} worker{'s' * (nodes > 1)} × {cpus} thread{'s' * (cpus > 1)}"
    return Result(f"ray, {nodes} node{'s' * (nodes > 1)} × {cpus} CPU ({workers})", nodes * cpus, summary, start_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8, help="how many of the shortest dev calls (default 8)")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "dev")
    parser.add_argument("--blas-threads", type=int, help="numpy's BLAS threads in the local path (default: numpy's)")
    args = parser.parse_args()
    if args.blas_threads and os.environ.get("OMP_NUM_THREADS") != str(args.blas_threads):
        # Read once, when numpy is first imported: start again with it set.
        os.environ["OMP_NUM_THREADS"] = str(args.blas_threads)
        os.execv(sys.executable, [sys.executable, *sys.argv])
    logging.basicConfig(level=logging.WARNING)
    sources = shortest_calls(args.corpus, args.calls)
    runs: list[Callable[[], Result]] = [
        lambda: run_local(sources, 1),
        lambda: run_local(sources, 2),
        lambda: run_ray(sources, nodes=1, cpus=1),
        lambda: run_ray(sources, nodes=1, cpus=2),
        lambda: run_ray(sources, nodes=2, cpus=1),
    ]
    results = []
    for run in runs:
        results.append(result := run())
        print(f"  {result.name}: {result.summary.x_realtime:.2f}× realtime", file=sys.stderr, flush=True)

    audio_s = results[0].summary.audio_s
    blas = os.environ.get("OMP_NUM_THREADS", "numpy's default")
    print(f"\n{len(sources)} calls, {audio_s:.0f} s of audio; wall time without the model load / workers' start; "
          f"local BLAS threads: {blas}\n")
    print(f"{'executor':<44} {'cores':>5} {'start s':>8} {'wall s':>7} {'× realtime':>11} {'vs local':>9}")
    local = {r.cores: r for r in results if r.name.startswith("local")}
    for r in results:
        versus = "" if r.name.startswith("local") else f"{r.summary.x_realtime / local[r.cores].summary.x_realtime:.2f}"
        print(f"{r.name:<44} {r.cores:>5} {r.start_s:>8.1f} {r.summary.wall_s:>7.1f} {r.summary.x_realtime:>11.2f} "
              f"{versus:>9}")
    print("\nvs local: Ray's x-realtime over the local path's on as many cores")


if __name__ == "__main__":
    main()
