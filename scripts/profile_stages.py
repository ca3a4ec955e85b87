#!/usr/bin/env python
"""Where a CPU run's time goes, per stage of a call's transcription, in seconds of wall time.

A sampling profiler undercounts CTranslate2: the model's work runs in its own threads, which
py-spy sees as native frames or not at all, so the encoder and beam search looked like a third
and a quarter of a CPU run when they are most of it. This runs `qcpipe run` in this process on
the first `--calls` dev calls with a timer around each stage (the calling thread waits while
CTranslate2 works, so its wall time is the model's), and charges every moment a worker spends
to the innermost stage it is in, within the pass that asked for it:

  passes  crosstalk fit, voice activity, speech timeline and levels, main decoding, looped
          regions decoded again, lost speech decoded again, the room's hearing again, the
          script's re-reading, the rest of the call (packing, utterances, simplifying);
  stages  encoder, beam search (Whisper's generate with its temperature fallback), word
          timing (alignment), features (log-mel), Silero VAD, the script's readings scored
          against the audio (alignment), and the pass's own Python.

The run's own thread (claims, storing and scoring each call) and start-up (imports, the model
and the rulebook, before the first call starts) are given apart. With one worker per core, the
workers' seconds add up to about cores × wall; the shares are of those seconds.

    python scripts/profile_stages.py [--corpus ../shared/corpus/dev] [--calls 16] [--workers 0]
                                     [--config qcpipe.toml]
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_gil import REPO, _subset  # noqa: E402  (a sibling script: the manifest of the first calls)

# (name, module attribute path) of what is timed: passes first, then the stages inside them.
PASSES = (
    ("the rest of the call", "qcpipe.asr.transcriber:Transcriber.transcribe"),
    ("crosstalk fit", "qcpipe.asr.transcriber:remove_crosstalk"),
    ("voice activity", "qcpipe.asr.transcriber:Transcriber._own_speech"),
    ("speech timeline and levels", "qcpipe.asr.transcriber:Transcriber._timeline"),
    ("main decoding", "qcpipe.asr.transcriber:Transcriber._decode_regions"),
    ("looped regions again", "qcpipe.asr.transcriber:Transcriber._recover_looped"),
    ("lost speech again", "qcpipe.asr.transcriber:Transcriber._recover_lost"),
    ("room: hearing again", "qcpipe.asr.transcriber:Transcriber._heard_again"),
    ("script re-reading", "qcpipe.asr.transcriber:Transcriber._reread_script"),
    ("storing and scoring (the run's thread)", "qcpipe.pipeline.batch:_store_transcript"),
)
STAGES = (
    ("encoder", "faster_whisper.transcribe:WhisperModel.encode"),
    ("beam search", "faster_whisper.transcribe:WhisperModel.generate_with_fallback"),
    ("word timing", "faster_whisper.transcribe:WhisperModel.add_word_timestamps"),
    ("features", "faster_whisper.feature_extractor:FeatureExtractor.__call__"),
    ("Silero VAD", "qcpipe.asr.transcriber:get_speech_timestamps"),
    # Its own time is the readings' alignment: the encoder inside it is charged to the encoder.
    ("readings scored against the audio", "qcpipe.asr.transcriber:Transcriber._log_likelihoods"),
)
OWN = "its own Python"
PASS_NAMES = frozenset(name for name, _ in PASSES)
STAGE_NAMES = frozenset(name for name, _ in STAGES)


class StageClock:
    """Wall time charged to (pass, stage), each moment to the innermost timed function a
    thread is in; counts of each stage's calls."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[tuple[str, str]] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.first_call_at: float | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def _charge(self, stack: list[str], since: float, now: float) -> None:
        passes = [name for name in stack if name in PASS_NAMES]
        stage = stack[-1] if stack[-1] in STAGE_NAMES else OWN
        # The pass is the outermost one but for the call itself, which holds every other.
        where = next((p for p in passes if p != PASSES[0][0]), passes[0] if passes else "outside a call")
        with self._lock:
            self.seconds[(where, stage)] += now - since

    def timed(self, name: str, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            local = self._local
            stack = local.__dict__.setdefault("stack", [])
            now = time.perf_counter()
            if stack:
                self._charge(stack, local.since, now)
            elif self.first_call_at is None and name == PASSES[0][0]:
                self.first_call_at = now
            stack.append(name)
            local.since = now
            try:
                return function(*args, **kwargs)
            finally:
                now = time.perf_counter()
                self._charge(stack, local.since, now)
                stack.pop()
                local.since = now
                with self._lock:
                    self.calls[name] += 1

        return wrapper

    def install(self) -> None:
        import importlib

        for name, where in PASSES + STAGES:
            module_name, attribute = where.split(":")
            owner = importlib.import_module(module_name)
            *path, last = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            setattr(owner, last, self.timed(name, getattr(owner, last)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "dev")
    parser.add_argument("--calls", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="`qcpipe run --workers` (0 = one per core)")
    parser.add_argument("--config", type=Path, help="a qcpipe.toml to run with (e.g. [asr] encode_padding_s, beam_size)")
    args = parser.parse_args()

    clock = StageClock()
    started = time.perf_counter()
    clock.install()
    from qcpipe.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = _subset(args.corpus, args.calls, work)
        command = ["run", str((args.corpus / "audio").resolve()), "--manifest", str(manifest), "--device", "cpu",
                   "--workers", str(args.workers), "--db", f"sqlite:///{work / 'profile.db'}"]
        if args.config:
            command = ["--config", str(args.config), *command]
        app(command, standalone_mode=False)
    wall = time.perf_counter() - started

    busy = sum(seconds for (where, _), seconds in clock.seconds.items() if not where.startswith("storing"))
    start_up = (clock.first_call_at or started) - started
    print(f"{args.calls} calls on CPU: wall {wall:.1f} s, of which start-up {start_up:.1f} s; "
          f"the workers busy {busy:.1f} s in all")
    by_pass: collections.Counter[str] = collections.Counter()
    by_stage: collections.Counter[str] = collections.Counter()
    for (where, stage), seconds in clock.seconds.items():
        by_pass[where] += seconds
        by_stage[stage] += seconds
    print("\nby stage (the workers' seconds; share of them)")
    for stage, seconds in by_stage.most_common():
        count = clock.calls.get(stage)
        each = f"  {1000 * seconds / count:6.0f} ms each of {count}" if count and stage != OWN else ""
        print(f"  {seconds:7.2f} s {100 * seconds / busy:5.1f} %  {stage}{each}")
    print("\nby pass, and the stages in it")
    for where, total in by_pass.most_common():
        print(f"  {total:7.2f} s {100 * total / busy:5.1f} %  {where}")
        for (pass_name, stage), seconds in sorted(clock.seconds.items(), key=lambda item: -item[1]):
            if pass_name == where and seconds >= 0.005 * busy:
                print(f"  {'':9s}{seconds:7.2f} s  {stage}")


if __name__ == "__main__":
    main()
