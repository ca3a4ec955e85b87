#!/usr/bin/env python
"""Where a run holds Python's interpreter lock (the GIL), per call, by stage.

On a GPU one `qcpipe run` feeds the card from many threads (asr.batching): the decoding
itself runs in CTranslate2 without the GIL, but each call's preparation and finishing (voice
activity, the crosstalk fit, features, word timing, the script's re-reading) and the run's own
storing and scoring are Python that takes turns for the one lock. A call that holds it 50 ms
caps one process at 20 calls a second, whatever the card; long before that, threads wait for
each other. This runs `qcpipe run` on the first `--calls` dev calls under py-spy, sampling only
the threads that hold the GIL, and prints the milliseconds per call each stage held it (start-up
apart: imports, loading the model and the rulebook).

Batched decoding (the GPU's code path) is forced on, so the figures can be taken on a CPU too;
`--device cuda` profiles a run on the card. Needs py-spy (`pip install py-spy`) and the right to
trace a child process (root, or ptrace allowed).

    python scripts/profile_gil.py [--corpus ../shared/corpus/dev] [--calls 32] [--device cpu]
                                  [--rate 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Stacks with any of these are start-up, not a call's work.
START_UP = ("_find_and_load", "SourceLoader", "Transcriber.__init__", "restricted_model_files", "kept_token_ids",
            "load_rulebook", "parse_rulebook", "PhraseMatcher.__init__", "ParseContext", "load_meaning_model",
            "open_database", "Database.migrate")
NO_FRAME = "no Python frame (interpreter start and exit)"
# (stage, what in the stack says so): the first that matches names a sample's stage.
STAGES = (
    ("storing and scoring (the run's thread)", ("_store_transcript",)),
    ("claims and progress (the run's thread)", ("run_batch", "run_command")),
    ("crosstalk fit", ("remove_crosstalk",)),
    ("script re-reading", ("_reread_script", "near_stretches", "heard_phrases", "_log_likelihoods")),
    ("room hearing again", ("_heard_again", "with_phrases_heard_again")),
    ("voice activity and levels", ("get_speech_timestamps", "own_speech", "SileroVADModel")),
    ("features", ("FeatureExtractor",)),
    ("word timing", ("find_alignment", "add_word_timestamps")),
    ("decoding glue", ("batching.py", "generate_segment", "_decode_regions", "_decode_alone")),
    ("reading audio", ("open_audio", "AudioStream")),
)


def stage_of(stack: str) -> str | None:
    """The stage a sampled stack belongs to; None for start-up."""
    if any(needle in stack for needle in START_UP):
        return None
    for stage, needles in STAGES:
        if any(needle in stack for needle in needles):
            return stage
    return "other Python" if stack.strip() else NO_FRAME


def _subset(corpus: Path, calls: int, into: Path) -> Path:
    """A manifest of the corpus's first `calls` calls (their recordings where they are)."""
    with open(corpus / "calls.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)[:calls]
        fields = reader.fieldnames
    for row in rows:
        row["audio"] = str((corpus / row["audio"]).resolve())
    manifest = into / "calls.csv"
    with open(manifest, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "dev")
    parser.add_argument("--calls", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples a second")
    parser.add_argument("--keep", type=Path, help="keep py-spy's raw stacks and the run's output in this folder")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: pip install py-spy")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = _subset(args.corpus, args.calls, work)
        config = work / "qcpipe.toml"
        config.write_text("[asr]\nbatched = true\n", encoding="utf-8")
        stacks = work / "gil.txt"
        command = [py_spy, "record", "--gil", "--nonblocking", "--rate", str(args.rate), "--format", "raw",
                   "-o", str(stacks), "--", sys.executable, "-m", "qcpipe", "--config", str(config), "run",
                   str((args.corpus / "audio").resolve()), "--manifest", str(manifest), "--device", args.device,
                   "--db", f"sqlite:///{work / 'profile.db'}"]
        run = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            (args.keep / "run.log").write_text(run.stdout, encoding="utf-8")
            if stacks.exists():
                shutil.copy(stacks, args.keep / "gil.txt")
        if run.returncode != 0 or not stacks.exists() or "calls done" not in run.stdout:
            sys.exit(f"the profiled run failed ({run.returncode}):\n{run.stdout[-3000:]}")
        held: collections.Counter[str] = collections.Counter()
        start_up = 0
        for line in stacks.read_text(encoding="utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            stage = stage_of(stack)
            if stage is None:
                start_up += int(count)
            else:
                held[stage] += int(count)

    summary = re.search(r"calls done (\d+).*?wall ([\d.]+) s · ([\d.]+)×", " ".join(run.stdout.split()))
    done = int(summary.group(1)) if summary else args.calls
    no_frame = held.pop(NO_FRAME, 0)
    per_call = {stage: 1000 * samples / args.rate / done for stage, samples in held.items()}
    if summary:
        print(f"{done} calls, device {args.device}, batched; wall {summary.group(2)} s, {summary.group(3)}× realtime")
    print(f"GIL held per call, start-up apart: {sum(per_call.values()):.1f} ms "
          f"(start-up: {start_up / args.rate:.1f} s in all; in no Python frame, as at start and exit: "
          f"{no_frame / args.rate:.1f} s)")
    for stage, ms in sorted(per_call.items(), key=lambda item: -item[1]):
        print(f"  {ms:6.1f} ms  {stage}")


if __name__ == "__main__":
    main()
