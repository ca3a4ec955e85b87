#!/usr/bin/env python
"""Peak memory on a long call: qcpipe's streamed transcription against loading the whole file.

Builds one long stereo recording (8 kHz μ-law WAV, as recorders store calls) by joining dev
corpus calls end to end, written block by block, then transcribes it in separate processes
(each process's peak RSS is its own):

  naive   what a user would write: decode the whole file (faster_whisper.decode_audio,
          split_stereo=True) and WhisperModel.transcribe each channel (beam 5, VAD).
  qcpipe  `qcpipe run`'s path: open_audio + Transcriber.transcribe, read 5 minutes at a time.

Prints, per variant and length: wall time, x-realtime, peak RSS and its growth over the
model's own footprint (RSS after loading the model). Memory is flat when qcpipe's growth
does not rise with the call's length.

    python scripts/bench_long_call.py [--minutes 30,120] [--variants naive,qcpipe]
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

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "dev"


def make_long_call(path: Path, minutes: float) -> float:
    """Join dev calls (both channels) until `minutes` long; return the duration in seconds."""
    import soundfile
    import soxr

    wanted = int(minutes * 60 * 8000)
    calls = sorted((CORPUS / "audio").iterdir())
    written = 0
    with soundfile.SoundFile(str(path), "w", samplerate=8000, channels=2, subtype="ULAW", format="WAV") as out:
        while written < wanted:
            for call in calls:
                data, rate = soundfile.read(str(call), dtype="float32", always_2d=True)
                if rate != 8000:
                    data = soxr.resample(data, rate, 8000)
                data = data[: wanted - written]
                out.write(data)
                written += len(data)
                if written >= wanted:
                    break
    return written / 8000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_naive(path: Path) -> dict:
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from qcpipe.asr.model import resolve_model
    from qcpipe.config import default_models_dir

    model = WhisperModel(str(resolve_model("base", default_models_dir())), device="cpu", compute_type="int8")
    loaded = _rss_mb()
    started = time.perf_counter()
    agent, customer = decode_audio(str(path), split_stereo=True)
    characters = 0
    for channel in (agent, customer):
        segments, _ = model.transcribe(channel, language="zh", beam_size=5, vad_filter=True)
        characters += sum(len(s.text) for s in segments)
    return {"wall_s": time.perf_counter() - started, "model_rss_mb": loaded, "characters": characters}


def run_qcpipe(path: Path) -> dict:
    from qcpipe.asr import AsrOptions, Transcriber, open_audio
    from qcpipe.config import default_models_dir

    transcriber = Transcriber(AsrOptions(), default_models_dir(), workers=1)
    loaded = _rss_mb()
    started = time.perf_counter()
    with open_audio(path) as audio:
        transcript = transcriber.transcribe(audio)
    return {"wall_s": time.perf_counter() - started, "model_rss_mb": loaded,
            "characters": sum(len(s.text) for s in transcript.segments)}


VARIANTS = {"naive": run_naive, "qcpipe": run_qcpipe}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", default="30,120", help="comma-separated call lengths")
    parser.add_argument("--variants", default="naive,qcpipe", help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:  # child process: one variant on one file, JSON out
        result = VARIANTS[args.variant](args.file)
        result["peak_rss_mb"] = _rss_mb()
        print(json.dumps(result))
        return

    print(f"{'variant':8} {'minutes':>8} {'wall s':>8} {'x-realtime':>11} {'peak RSS MB':>12} {'over model MB':>14} {'chars':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in (float(m) for m in args.minutes.split(",")):
            path = Path(tmp) / f"long-{minutes:g}min.wav"
            duration = make_long_call(path, minutes)
            for variant in args.variants.split(","):
                command = [sys.executable, __file__, "--variant", variant, "--file", str(path)]
                output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                r = json.loads(output.strip().splitlines()[-1])
                print(f"{variant:8} {minutes:>8g} {r['wall_s']:>8.0f} {duration / r['wall_s']:>11.1f} "
                      f"{r['peak_rss_mb']:>12.0f} {r['peak_rss_mb'] - r['model_rss_mb']:>14.0f} {r['characters']:>7}",
                      flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
