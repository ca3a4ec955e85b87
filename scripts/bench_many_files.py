#!/usr/bin/env python
"""Peak memory of `qcpipe run` over a folder of many recordings: streamed, it stays flat.

Writes N short recordings (2 s, stereo 8 kHz μ-law, in folders of 100) and a manifest of
them, then runs the whole pipeline (ASR, scoring, SQLite) over each size in a process of its
own and prints wall time, calls per second and peak RSS. The recordings are near-silent (a
quiet tone the VAD ignores), so the run measures the batch's bookkeeping (listing, manifest,
hashing, claims, one transaction per call), not the decoder.

    python scripts/bench_many_files.py [--sizes 1000,10000] [--manifest]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_folder(root: Path, count: int) -> Path:
    """`count` recordings under `root` in folders of 100, and calls.csv listing them."""
    import numpy as np
    import soundfile

    tone = (0.001 * np.sin(np.arange(16000) * 2 * np.pi * 50 / 8000)).astype(np.float32)
    audio = np.stack([tone, tone], axis=1)
    lines = ["call_id,audio,agent_id,agent_name,team,started_at,queue_wait_s"]
    for number in range(count):
        folder = root / f"q{number // 100:03d}"
        folder.mkdir(exist_ok=True)
        name = f"C{number:06d}"
        soundfile.write(str(folder / f"{name}.wav"), audio, 8000, subtype="ULAW")
        lines.append(f"{name},{folder.name}/{name}.wav,A{number % 50:02d},,一组,2026-10-02T09:00:00+08:00,5")
    (root / "calls.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "calls.csv"


def run_child(folder: Path, manifest: Path | None) -> dict:
    from qcpipe.config import Settings
    from qcpipe.ingest import sources_for
    from qcpipe.pipeline import transcribe_sources
    from qcpipe.scoring import load_rulebook
    from qcpipe.store import open_database

    settings = Settings(db_url=f"sqlite:///{folder.parent / 'bench.db'}", device="cpu", settle_s=0)
    database = open_database(settings.db_url)
    started = time.perf_counter()
    sources = sources_for(folder, manifest)
    total = len(sources)
    summary = transcribe_sources(settings, sources, database, rulebook=load_rulebook())
    database.dispose()
    return {"calls": total, "done": summary.done, "failed": summary.failed, "wall_s": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--manifest", action="store_true", help="list the calls in a manifest (default: the folder)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.child / "calls.csv" if args.manifest else None)))
        return
    print(f"{'files':>7} {'done':>7} {'failed':>7} {'wall s':>8} {'calls/s':>8} {'peak RSS MB':>12}   ({'manifest' if args.manifest else 'folder'})")
    for size in (int(n) for n in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "night"
            folder.mkdir()
            make_folder(folder, size)
            command = [sys.executable, __file__, "--child", str(folder)] + (["--manifest"] if args.manifest else [])
            r = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            print(f"{r['calls']:>7} {r['done']:>7} {r['failed']:>7} {r['wall_s']:>8.0f} {r['calls'] / r['wall_s']:>8.1f} "
                  f"{r['peak_rss_mb']:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
