#!/usr/bin/env python
"""Distributions of what the timing checks measure, over a transcribed database, to set their defaults.

Prints percentiles of the agent's (and, for comparison, the customer's) speech rate in characters
per minute, per utterance and per call, the way the `speech_rate` check measures it; with --all
also each call's longest silence, the agent's interruptions as the `interruption` check counts
them, and the agent's loudness jumps (a region's level above the agent's median in the call).

    qcpipe run ../shared/corpus/dev --manifest ../shared/corpus/dev/calls.csv --db sqlite:///var/dev.db
    python scripts/speech_rate_stats.py [--db sqlite:///var/dev.db] [--min-chars 5] [--all]
        [--rules configs/rules/default.yaml]

Calls transcribed before speech levels were stored have none; --levels-from-audio measures them
from the recordings (the stored regions, the ASR stage's level measure, no speech recognition).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

from qcpipe.asr.types import Role
from qcpipe.scoring import CallInput, load_rulebook
from qcpipe.scoring.records import call_input
from qcpipe.scoring.timeline import mean_rate, utterance_rates
from qcpipe.store import open_database
from qcpipe.store import repository as repo

REPO = Path(__file__).resolve().parents[1]
PERCENTILES = (0, 1, 5, 25, 50, 75, 95, 99, 100)


def load(db_url: str, with_audio: bool) -> list[tuple[CallInput, Path, float]]:
    """Every transcribed call: as scoring takes it, its recording, and its VAD padding (both pads, s)."""
    database = open_database(db_url)
    calls, last = [], 0
    with database.session() as session:
        while page := repo.calls_for_scoring(session, after_pk=last, limit=500):
            for call in page:
                padding = 2 * float((call.asr_options or {}).get("vad_pad_ms") or 0) / 1000
                calls.append((call_input(call), call.recording_path, padding))
            last = page[-1].id
    database.dispose()
    if with_audio:
        calls = [(_with_levels(call, path), path, padding) for call, path, padding in calls]
    return calls


def _with_levels(call: CallInput, path: Path) -> CallInput:
    """The call with each region's level measured from its recording, as the ASR stage does."""
    from dataclasses import replace

    from qcpipe.asr.audio import SAMPLE_RATE, load_audio
    from qcpipe.asr.crosstalk import remove_crosstalk
    from qcpipe.asr.voice import speech_level_db

    audio = load_audio(path)
    samples = np.concatenate(list(audio.blocks()), axis=1)
    if samples.shape[0] == 2:
        samples = remove_crosstalk(samples, 0, 1)[0]
    speech = tuple(replace(r, level_db=speech_level_db(samples[r.channel, int(r.start * SAMPLE_RATE):int(r.end * SAMPLE_RATE)]))
                   for r in call.speech)
    return replace(call, speech=speech)


def line(name: str, values: list[float], unit: str = "") -> str:
    if not values:
        return f"{name:<34} (none)"
    cells = "  ".join(f"p{p}={np.percentile(values, p):.0f}" if p not in (0, 100) else
                      f"{'min' if p == 0 else 'max'}={np.percentile(values, p):.0f}" for p in PERCENTILES)
    return f"{name:<34} n={len(values):<5} {cells}{unit}"


def fine(name: str, values: list[float], unit: str) -> str:
    if not values:
        return f"{name:<34} (none)"
    cells = "  ".join(f"p{p}={np.percentile(values, p):.1f}" for p in (50, 95, 99)) + f"  max={max(values):.1f}"
    return f"{name:<34} n={len(values):<5} {cells} {unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get("QCPIPE_DB", f"sqlite:///{REPO / 'var' / 'dev.db'}"))
    parser.add_argument("--min-chars", type=int, default=5, help="utterances shorter than this are not timed")
    parser.add_argument("--all", action="store_true", help="also silences, interruptions and loudness jumps")
    parser.add_argument("--levels-from-audio", action="store_true",
                        help="measure region levels from the recordings (calls stored without levels)")
    parser.add_argument("--rules", type=Path, default=REPO / "configs" / "rules" / "default.yaml",
                        help="rulebook whose interruption/raised_voice settings --all applies")
    args = parser.parse_args()

    calls = load(args.db, args.levels_from_audio)
    print(f"{len(calls)} calls in {args.db}; utterances of {args.min_chars}+ characters; chars/min")
    for role in (Role.AGENT, Role.CUSTOMER):
        per_utterance, per_call, fastest = [], [], []
        for call, _, _ in calls:
            rates = utterance_rates(sorted(call.segments, key=lambda s: s.start), role, args.min_chars)
            per_utterance += [r.per_minute for r in rates]
            if rates:
                per_call.append(mean_rate(rates))
                fastest.append(max(r.per_minute for r in rates))
        print(line(f"{role} per utterance", per_utterance))
        print(line(f"{role} per call", per_call))
        print(line(f"{role} fastest utterance of a call", fastest))
    if args.all:
        _timeline(calls, load_rulebook(args.rules))
    return 0


def _timeline(calls: list[tuple[CallInput, Path, float]], rulebook) -> None:
    from qcpipe.scoring.matchers import CallView
    from qcpipe.scoring.matchers.interruption import Interruption
    from qcpipe.scoring.matchers.raised_voice import RaisedVoice
    from qcpipe.scoring.timeline import overlaps, silences

    interruption = next((r.matcher for r in rulebook.rules if isinstance(r.matcher, Interruption)), None)
    raised = next((r.matcher for r in rulebook.rules if isinstance(r.matcher, RaisedVoice)), None)
    longest, agent_overlaps, counted, jumps = [], [], [], []
    for call, _, padding in calls:
        gaps = [end - start + padding for start, end in silences(call.speech, padding, padding)]
        longest.append(max(gaps, default=0.0))
        found = [o for o in overlaps(call.speech, padding) if o.starter is Role.AGENT]
        agent_overlaps += [o.seconds for o in found]
        view = CallView(call, rulebook.coder)
        if interruption is not None:
            counted.append(sum(1 for o in found if o.seconds >= interruption.min_overlap_s
                               and len(interruption.said_over(view, o)) >= interruption.min_chars))
        # The regions the raised_voice check compares (1 s or more, holding the agent's words).
        compared = raised.compared(view) if raised is not None else []
        levels = [r.level_db for r in compared if r.level_db is not None]
        if len(levels) >= 2:
            jumps.append(max(levels) - statistics.median(levels))
    print(fine("longest silence of a call", longest, "s (VAD padding added back)"))
    print(fine("agent-started overlaps", agent_overlaps, "s (padding taken out)"))
    if interruption is not None:
        print(f"{'interruptions per call':<34} " + "  ".join(f"{k}: {counted.count(k)} calls" for k in sorted(set(counted))))
    print(fine("agent loudest region − median", jumps, "dB (the regions raised_voice compares)"))


if __name__ == "__main__":
    sys.exit(main())
