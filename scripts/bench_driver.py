#!/usr/bin/env python
"""The run's own ceiling: how many calls a second `qcpipe run` claims, stores and scores.

However many transcription workers there are (a GPU's decoding threads, a Ray cluster's
nodes), one run claims each call, stores its transcript and scores it, one call after another
in its own thread: that is the most any number of workers can get through one run, and on a GPU
it shares Python's lock with the threads that feed the card. Here the workers are instant: the
first `--calls` dev calls are transcribed once (the real model, on this machine's CPU), then
`--copies` copies of each (other call ids, the same recordings) go through `run_batch` with an
executor that hands back those transcripts at once, so the wall time is the run's own work.

    python scripts/bench_driver.py [--calls 16] [--copies 16] [--repeat 3]
                                   [--db sqlite:///path|postgresql+psycopg://…]

Prints calls per second, milliseconds per call, and the ceiling in x-realtime (the copies'
audio over the wall time), with the default rulebook and without one (storing only), the
median of `--repeat` runs (this is a run of small writes: a machine's other work moves it).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class InstantExecutor:
    """Transcripts made beforehand, handed back at once (the run's `CallExecutor`)."""

    def __init__(self, results: dict) -> None:
        self._results = results

    @property
    def slots(self) -> int:
        return 32

    def submit(self, source) -> Future:
        future: Future = Future()
        future.set_result(self._results[source.call_id.split("~")[0]])
        return future

    def close(self, cancel: bool) -> None:
        del cancel


def transcribed(corpus: Path, count: int) -> tuple[list, dict]:
    from qcpipe.asr import Transcriber
    from qcpipe.config import Settings
    from qcpipe.ingest import read_manifest
    from qcpipe.pipeline import asr_options
    from qcpipe.pipeline.batch import transcribe_call
    from qcpipe.scoring import load_rulebook

    settings = Settings(device="cpu")
    sources = sorted(read_manifest(corpus / "calls.csv"), key=lambda s: s.call_id)[:count]
    model = Transcriber(asr_options(settings, load_rulebook()), settings.models_dir, workers=1)
    return sources, {s.call_id: transcribe_call(model, s, settings.channels) for s in sources}


def run_once(db_url: str, sources: list, results: dict, copies: int, rulebook, tag: str) -> tuple[float, float, int]:
    """One run over `copies` copies of each source, call ids `ID~{tag}{n}` (new to the database)."""
    from qcpipe.pipeline import run_batch
    from qcpipe.store import open_database

    copied = [dataclasses.replace(s, call_id=f"{s.call_id}~{tag}{n}") for n in range(copies) for s in sources]
    fingerprint = next(iter(results.values())).transcript.options.fingerprint()
    database = open_database(db_url)
    try:
        started = time.perf_counter()
        summary = run_batch(copied, database, lambda: sys.exit("no model is loaded here"), asr_fingerprint=fingerprint,
                            rulebook=rulebook, executor=InstantExecutor(results))
        wall = time.perf_counter() - started
    finally:
        database.dispose()
    return wall, summary.audio_s, summary.done


def main() -> None:
    from qcpipe.scoring import load_rulebook

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "dev")
    parser.add_argument("--calls", type=int, default=16)
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pass (the median is shown)")
    parser.add_argument("--db", help="a database URL (a fresh one: the copies' call ids must be new there); "
                                     "default: a new SQLite file")
    args = parser.parse_args()
    sources, results = transcribed(args.corpus, args.calls)
    print(f"{len(sources)} dev calls transcribed, each stored {args.copies}× as another call")
    print(f"{'':22} {'calls/s':>8} {'ms/call':>8} {'x-realtime ceiling':>19}")
    rulebook = load_rulebook()
    with tempfile.TemporaryDirectory() as tmp:
        for scored in (True, False):
            runs = []
            for attempt in range(args.repeat):
                tag = f"{'s' if scored else 'u'}{attempt}-"
                url = args.db or f"sqlite:///{tmp}/{tag}.db"
                runs.append(run_once(url, sources, results, args.copies, rulebook if scored else None, tag))
            wall, audio_s, done = sorted(runs)[len(runs) // 2]
            label = "claimed, stored, scored" if scored else "claimed, stored"
            print(f"{label:22} {done / wall:>8.1f} {wall / done * 1000:>8.1f} {audio_s / wall:>18.0f}×")


if __name__ == "__main__":
    main()
