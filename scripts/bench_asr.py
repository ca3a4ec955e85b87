#!/usr/bin/env python
"""ASR throughput and accuracy: qcpipe's batch against the naive faster-whisper loop.

Both run on the same calls in the same invocation, each in its own process (so peak memory
is its own), and are scored against the corpus labels:

  naive   the loop a user would write: decode each file, WhisperModel.transcribe each channel
          (beam 5, VAD filter), default threads.
  qcpipe  `qcpipe run`'s pipeline (transcribe_sources) into a fresh SQLite database, with
          the device's default decoder (sequential on CPU; on GPU batched, the windows of
          all the calls in hand decoded together).
  qcpipe-batched  the same with batched decoding forced on.
  qcpipe-pad2     qcpipe with each window encoded at its own length plus 2 s of padding
                  instead of Whisper's 30 s (`[asr] encode_padding_s = 2`).
  qcpipe-fullvocab  qcpipe with the decoder scoring every token of Whisper's vocabulary, not
                  only the tokens Chinese is written with (`[asr] restrict_vocabulary = false`).
  qcpipe-beam4, -beam3, -beam2, -greedy  qcpipe with a narrower beam (`[asr] beam_size`).
  qcpipe-fast     padding 2 s and a beam of 2 together: the faster CPU path, for a machine
                  short of cores.
  qcpipe-first    qcpipe with a greedy first pass over each window, and the beam only for the
                  windows that reading is unsure of (`[asr] greedy_first_pass`, `sure_log_prob`);
                  qcpipe-pad2-first the same with padding 2 s. Under the table, how many windows
                  were decoded again with the beam.
  qcpipe-ray      through a Ray runtime started on this machine (on a GPU, Ray's worker
                  processes sharing the card); qcpipe-ray-fast the same with qcpipe-fast's settings.

Prints x-realtime (seconds of audio per wall second), for qcpipe variants also once the model is
up (from the 16th call finished on: a Ray runtime takes some 20 s to start its workers), the
speed ratio to the first variant, peak RSS, on a GPU the peak GPU memory the variant added
(NVML, when nvidia-ml-py is there) and how many windows the pooled batches held on average, the
character error rate (CER) against the reference transcripts (per role, so a word in the wrong
lane counts as an error), and for qcpipe variants the `qcpipe eval` micro-F1 of the default
rulebook on what was heard. Under the table, each variant's CER less the first's, with a 95 %
interval from resampling the calls' parties: on the dev corpus's 7,574 reference characters a
difference of a few tenths of a point is within chance. `--save-lanes FILE` keeps a run's errors
per party and `--against FILE` compares this run's variants with them, for runs on two machines
(the GPU's numbers against the CPU path's, say).

qcpipe's wall time includes loading the model, as a nightly run's does; on a GPU the dev
corpus (42 minutes) is decoded in seconds, so `--repeat N` gives qcpipe variants the corpus N
times over (as N times as many calls, each stored on its own) to measure a night's throughput
rather than the model's start. CER and micro-F1 are always those of the first copy.

    python scripts/bench_asr.py [--corpus ../shared/corpus/dev] [--calls 64] [--device cpu]
                                [--repeat 1] [--workers 0] [--batch-size 0] [--gpu-decoders 0]
                                [--ray-workers-per-gpu 2] [--gpu-batch-min-windows 0] [--switch-interval 0]
                                [--compute-type auto] [--save-lanes FILE] [--against FILE]
                                [--variants naive,qcpipe,qcpipe-fullvocab,qcpipe-pad2,qcpipe-batched,
                                            qcpipe-hotwords,qcpipe-beam4,qcpipe-beam3,qcpipe-beam2,
                                            qcpipe-greedy,qcpipe-fast,qcpipe-first,qcpipe-pad2-first,
                                            qcpipe-ray,qcpipe-ray-fast]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bare(text: str) -> str:
    """The text as CER compares it: the scoring stage's normal form (simplified, no punctuation,
    digits as the Chinese numerals the references write: ASR writes 7789012 or 七七八九零一二)."""
    from qcpipe.scoring.normalize import normalize

    return normalize(text).chars


def _calls(corpus: Path, limit: int) -> list[dict]:
    labels = sorted((corpus / "labels").glob("*.json"))[:limit]
    return [json.loads(p.read_text(encoding="utf-8")) for p in labels]


def _lane_errors(hypotheses: dict[str, dict[str, str]], calls: list[dict]) -> list[tuple[int, int]]:
    """(character errors, reference characters) of each call's agent and customer, in order."""
    from rapidfuzz.distance import Levenshtein

    lanes = []
    for call in calls:
        for role in ("agent", "customer"):
            reference = _bare("".join(t["text"] for t in call["turns"] if t["role"] == role))
            heard = _bare(hypotheses.get(call["call_id"], {}).get(role, ""))
            lanes.append((Levenshtein.distance(heard, reference), len(reference)))
    return lanes


def _heard(hypotheses: dict[str, dict[str, str]], calls: list[dict]) -> dict:
    """The variant's CER over all the calls, and each party's errors for the paired comparison."""
    lanes = _lane_errors(hypotheses, calls)
    return {"cer": sum(errors for errors, _ in lanes) / sum(chars for _, chars in lanes), "lanes": lanes}


def _cer_difference(lanes: list[tuple[int, int]], base: list[tuple[int, int]],
                    resamples: int = 10_000) -> tuple[float, float, float]:
    """The CER of `lanes` less that of `base` (the same calls heard two ways), in points, with a
    95 % interval from resampling the lanes (calls' parties) with replacement: how much of a
    difference the corpus can tell from chance."""
    import numpy as np

    errors = np.array([e for e, _ in lanes]) - np.array([e for e, _ in base])
    chars = np.array([c for _, c in base])
    picks = np.random.default_rng(0).integers(0, len(errors), size=(resamples, len(errors)))
    drawn = 100 * errors[picks].sum(axis=1) / chars[picks].sum(axis=1)
    low, high = np.percentile(drawn, [2.5, 97.5])
    return 100 * errors.sum() / chars.sum(), float(low), float(high)


class GpuMemoryPeak:
    """The most GPU memory in use while the variant ran, less what was in use before it began,
    sampled through NVML every 20 ms (the decoder's allocator keeps what it took, so the peak
    is also what it holds at the end). None off a GPU or without nvidia-ml-py."""

    def __init__(self, device: str) -> None:
        self.peak_mb: float | None = None
        self._handle = None
        if device == "cpu":
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # noqa: BLE001 (no NVML here: the column stays empty)
            return
        self._before = self._used()
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _used(self) -> float:
        return self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb or 0.0, self._used() - self._before)

    def stop(self) -> float | None:
        if self._handle is not None:
            self._stop.set()
            self._thread.join()
        return self.peak_mb


def run_naive(corpus: Path, calls: list[dict], device: str, workers: int = 0, repeat: int = 1,
              batch_size: int = 0, gpu_decoders: int = 0, ray_workers_per_gpu: int = 1,
              gpu_batch_min_windows: int = 0, compute_type: str = "auto") -> dict:
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from qcpipe.asr.model import resolve_model
    from qcpipe.asr.transcriber import resolve_device
    from qcpipe.config import default_models_dir

    # The loop a user writes: each call once, one after another.
    del workers, repeat, batch_size, gpu_decoders, ray_workers_per_gpu, gpu_batch_min_windows
    device, compute_type = resolve_device(device, compute_type)
    model = WhisperModel(str(resolve_model("base", default_models_dir())), device=device, compute_type=compute_type)
    started = time.perf_counter()
    hypotheses, audio_s = {}, 0.0
    for call in calls:
        agent, customer = decode_audio(str(corpus / call["audio"]), split_stereo=True)
        audio_s += len(agent) / 16000
        hypotheses[call["call_id"]] = {
            role: "".join(s.text for s in model.transcribe(channel, language="zh", beam_size=5, vad_filter=True)[0])
            for role, channel in (("agent", agent), ("customer", customer))
        }
    return {"wall_s": time.perf_counter() - started, "audio_s": audio_s, **_heard(hypotheses, calls)}


def run_qcpipe(corpus: Path, calls: list[dict], device: str, workers: int = 0, repeat: int = 1,
               batch_size: int = 0, gpu_decoders: int = 0, ray_workers_per_gpu: int = 1, gpu_batch_min_windows: int = 0,
               compute_type: str = "auto", batched: bool | None = None,
               hotwords: str | None = None, beam_size: int = 5, encode_padding_s: float = 30.0,
               restrict_vocabulary: bool = True, executor: str = "local", greedy_first_pass: bool = False) -> dict:
    from sqlalchemy import select

    from qcpipe.asr.batching import WindowPool
    from qcpipe.asr.first_pass import GreedyFirstWhisper
    from qcpipe.config import Settings
    from qcpipe.ingest import read_manifest
    from qcpipe.pipeline import transcribe_sources
    from qcpipe.scoring import evaluate, load_rulebook
    from qcpipe.store import Call, Segment, open_database
    from qcpipe.store import repository as repo

    pools = _made_from_now_on(WindowPool)
    models = _made_from_now_on(GreedyFirstWhisper)
    if executor == "ray":
        from qcpipe.pipeline.ray_executor import RayExecutor

        executors = _made_from_now_on(RayExecutor)
    else:
        executors = []
    wanted = {c["call_id"] for c in calls}
    sources = [s for s in read_manifest(corpus / "calls.csv") if s.call_id in wanted]
    # The copies are other calls of the same recordings (the store keys a call by its id).
    sources += [dataclasses.replace(s, call_id=f"{s.call_id}~{copy}") for copy in range(1, repeat) for s in sources]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_url=f"sqlite:///{tmp}/bench.db", device=device, compute_type=compute_type,
                            workers=workers, batched=batched,
                            hotwords=hotwords, beam_size=beam_size, encode_padding_s=encode_padding_s,
                            restrict_vocabulary=restrict_vocabulary, executor=executor,
                            greedy_first_pass=greedy_first_pass,
                            ray_workers_per_gpu=ray_workers_per_gpu,
                            **({"batch_size": batch_size} if batch_size else {}),
                            **({"gpu_decoders": gpu_decoders} if gpu_decoders else {}),
                            **({"gpu_batch_min_windows": gpu_batch_min_windows} if gpu_batch_min_windows else {}))
        database = open_database(settings.db_url)
        started = time.perf_counter()
        finished_at: list[float] = []

        def progress(_outcome: object) -> None:  # on stderr, so that a run cut short still tells its pace
            finished_at.append(time.perf_counter() - started)
            if len(finished_at) % 16 == 0:
                print(f"  {len(finished_at)} calls in {finished_at[-1]:.1f} s", file=sys.stderr, flush=True)

        summary = transcribe_sources(settings, sources, database, rulebook=load_rulebook(), on_outcome=progress)
        wall = time.perf_counter() - started
        with database.session() as session:
            # Only the first copy is compared: evaluate compares the calls the labels name.
            micro_f1 = evaluate(repo.violations_by_call(session), corpus / "labels").micro_f1
        hypotheses: dict[str, dict[str, str]] = {}
        with database.session() as session:
            for call_id, role, text in session.execute(
                select(Call.call_id, Segment.role, Segment.text).join(Segment).order_by(Segment.start_s)
            ):
                lane = hypotheses.setdefault(call_id, {})
                lane[role] = lane.get(role, "") + text
        database.dispose()
    fills = [(pool.counts.batches, pool.counts.windows) for pool in pools]
    fills += [made.batch_fill for made in executors if made.batch_fill]  # Ray's workers, read as it closed
    batches = sum(batches for batches, _ in fills)
    first_pass = [sum(model.decoded_again for model in models), sum(model.windows for model in models)]
    return {"wall_s": wall, "audio_s": summary.audio_s, **_heard(hypotheses, calls), "failed": summary.failed,
            "micro_f1": micro_f1, "once_up_x": _once_up(finished_at, summary.audio_s),
            "windows_per_batch": sum(windows for _, windows in fills) / batches if batches else None,
            "decoded_again": first_pass if first_pass[1] else None}


def _once_up(finished_at: list[float], audio_s: float, first: int = 16) -> float | None:
    """x-realtime from the `first`-th call finished to the last: the pace once the model (on Ray,
    the runtime and each worker's model) is up, which is what a night's run goes at. The calls'
    audio is taken as the run's mean (the copies of `--repeat` finish in any order)."""
    if len(finished_at) < 2 * first:
        return None
    calls = len(finished_at) - first
    return audio_s * calls / len(finished_at) / (finished_at[-1] - finished_at[first - 1])


def _made_from_now_on(cls: type) -> list:
    """The instances of `cls` this process makes from now on. The GPU window pools
    (asr.batching.WindowPool): how full their batches ran is the first thing to know of a GPU
    run's speed; Ray's executors (pipeline.ray_executor.RayExecutor) read that of their workers
    as they close; the models (asr.first_pass.GreedyFirstWhisper) count the windows their greedy
    first pass was unsure of."""
    instances: list = []
    made = cls.__init__

    def recorded(self, *args, **kwargs) -> None:
        made(self, *args, **kwargs)
        instances.append(self)

    cls.__init__ = recorded
    return instances


VARIANTS = {
    "naive": run_naive,
    "qcpipe": run_qcpipe,
    "qcpipe-batched": lambda *args: run_qcpipe(*args, batched=True),
    # Each window encoded at its own length plus 2 s, not padded to 30 s (`[asr] encode_padding_s`).
    "qcpipe-pad2": lambda *args: run_qcpipe(*args, encode_padding_s=2.0),
    # The decoder scoring all of Whisper's tokens, not only those Chinese is written with
    # (`[asr] restrict_vocabulary = false`, as before that setting).
    "qcpipe-fullvocab": lambda *args: run_qcpipe(*args, restrict_vocabulary=False),
    # Vocabulary biasing with the script phrases the rulebook looks for.
    "qcpipe-hotwords": lambda *args: run_qcpipe(*args, hotwords=SCRIPT_HOTWORDS),
    # Narrower beams: the speed/accuracy trade of `[asr] beam_size`.
    "qcpipe-beam4": lambda *args: run_qcpipe(*args, beam_size=4),
    "qcpipe-beam3": lambda *args: run_qcpipe(*args, beam_size=3),
    "qcpipe-beam2": lambda *args: run_qcpipe(*args, beam_size=2),
    "qcpipe-greedy": lambda *args: run_qcpipe(*args, beam_size=1),
    # What a CPU short of cores would set: windows encoded at their own length and a beam of 2.
    "qcpipe-fast": lambda *args: run_qcpipe(*args, encode_padding_s=2.0, beam_size=2),
    # A greedy first pass over each window, the beam again only where it is unsure
    # (`[asr] greedy_first_pass`, `qcpipe.asr.first_pass`).
    "qcpipe-first": lambda *args: run_qcpipe(*args, greedy_first_pass=True),
    "qcpipe-pad2-first": lambda *args: run_qcpipe(*args, encode_padding_s=2.0, greedy_first_pass=True),
    # Through a Ray runtime started on this machine: on a GPU, `--ray-workers-per-gpu` worker
    # processes share the card, each with its own model and interpreter lock (the wall time
    # includes starting Ray and its workers; peak RSS is this process's, the run's, alone).
    "qcpipe-ray": lambda *args: run_qcpipe(*args, executor="ray"),
    "qcpipe-ray-fast": lambda *args: run_qcpipe(*args, executor="ray", encode_padding_s=2.0, beam_size=2),
}
SCRIPT_HOTWORDS = "您好 欢迎致电 很高兴为您服务 让您久等了 抱歉 记录 核实 尽快处理 联系电话 回电 请您稍等 感谢您的来电 再见"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "dev")
    parser.add_argument("--calls", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=1, help="qcpipe variants: the corpus this many times over")
    parser.add_argument("--compute-type", default="auto",
                        help="the model's numbers (auto: float16 on a GPU, int8 on a CPU; int8_float16, float32 …)")
    parser.add_argument("--workers", type=int, default=0, help="qcpipe variants: `[asr] workers` (0 = the default)")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="qcpipe variants: `[asr] batch_size` (0 = the default)")
    parser.add_argument("--gpu-decoders", type=int, default=0,
                        help="qcpipe variants on GPU: `[asr] gpu_decoders` (0 = the default)")
    parser.add_argument("--gpu-batch-min-windows", type=int, default=0,
                        help="qcpipe variants on GPU: `[asr] gpu_batch_min_windows` (0 = the default)")
    parser.add_argument("--switch-interval", type=float, default=0.0,
                        help="seconds a thread waiting for Python's lock waits before asking for it "
                             "(sys.setswitchinterval; 0 = Python's 0.005): how soon a decoding thread back from "
                             "the GPU gets it from the threads preparing calls")
    parser.add_argument("--ray-workers-per-gpu", type=int, default=2,
                        help="qcpipe-ray on GPU: `[asr] ray_workers_per_gpu`, worker processes sharing the card")
    parser.add_argument("--variants", default="naive,qcpipe,qcpipe-batched",
                        help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--save-lanes", type=Path,
                        help="write each variant's errors per party (JSON), to compare a later run against")
    parser.add_argument("--against", type=Path,
                        help="a --save-lanes file from another run (another device, say): each variant's CER "
                             "is also given less each of that run's, on the same calls")
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    calls = _calls(args.corpus, args.calls)

    if args.variant:  # child process: run one variant, report JSON
        if args.switch_interval:
            sys.setswitchinterval(args.switch_interval)
        gpu_memory = GpuMemoryPeak(args.device)
        result = VARIANTS[args.variant](args.corpus, calls, args.device, args.workers, args.repeat, args.batch_size,
                                           args.gpu_decoders, args.ray_workers_per_gpu, args.gpu_batch_min_windows,
                                           args.compute_type)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["peak_gpu_mb"] = gpu_memory.stop()
        print(json.dumps(result))
        return

    results, failed = {}, {}
    for variant in args.variants.split(","):
        command = [sys.executable, __file__, "--variant", variant, "--corpus", str(args.corpus),
                   "--calls", str(args.calls), "--device", args.device, "--repeat", str(args.repeat),
                   "--workers", str(args.workers), "--batch-size", str(args.batch_size),
                   "--gpu-decoders", str(args.gpu_decoders), "--ray-workers-per-gpu", str(args.ray_workers_per_gpu),
                   "--gpu-batch-min-windows", str(args.gpu_batch_min_windows), "--compute-type", args.compute_type,
                   "--switch-interval", str(args.switch_interval)]
        run = subprocess.run(command, stdout=subprocess.PIPE, text=True)  # its errors show on stderr
        if run.returncode != 0:  # the others still run and are shown
            failed[variant] = run.returncode
            continue
        results[variant] = json.loads(run.stdout.strip().splitlines()[-1])
        # Each result as it comes, so a run stopped at a time limit still shows what finished.
        shown = {key: value for key, value in results[variant].items() if key != "lanes"}
        print(f"{variant}: {json.dumps(shown)}", file=sys.stderr, flush=True)
    for variant, status in failed.items():
        print(f"{variant} failed (exit {status}; its error is above)")
    if not results:
        sys.exit(1)
    first = next(iter(results))
    base = results[first]
    print(f"{len(calls)} calls, {base['audio_s'] / 60:.1f} min of stereo audio, device {args.device} "
          f"({args.compute_type}), "
          f"qcpipe variants {args.repeat}× the calls, workers {args.workers or 'default'}, "
          f"batch size {args.batch_size or 'default'}, GPU decoders {args.gpu_decoders or 'default'}, "
          f"batch gathers {args.gpu_batch_min_windows or 'default'}"
          + (f", Ray workers per GPU {args.ray_workers_per_gpu}"
             if any(variant.startswith("qcpipe-ray") for variant in results) else "")
          + (f", switch interval {args.switch_interval} s" if args.switch_interval else ""))
    print(f"{'':16} {'x-realtime':>11} {'once up':>8} {'audio s':>8} {'wall s':>8} {'peak RSS MB':>12} {'GPU MB':>7} "
          f"{'CER':>7} {'speed':>7} {'micro-F1':>9} {'win/batch':>9}")
    for variant, r in results.items():
        ratio = (r["audio_s"] / r["wall_s"]) / (base["audio_s"] / base["wall_s"])
        f1 = f"{r['micro_f1']:.3f}" if r.get("micro_f1") is not None else "-"
        gpu = f"{r['peak_gpu_mb']:.0f}" if r.get("peak_gpu_mb") is not None else "-"
        fill = f"{r['windows_per_batch']:.1f}" if r.get("windows_per_batch") is not None else "-"
        once_up = f"{r['once_up_x']:.1f}" if r.get("once_up_x") is not None else "-"
        print(f"{variant:16} {r['audio_s'] / r['wall_s']:>11.1f} {once_up:>8} {r['audio_s']:>8.0f} {r['wall_s']:>8.1f} "
              f"{r['peak_rss_mb']:>12.0f} {gpu:>7} {r['cer']:>7.2%} {ratio:>6.2f}× {f1:>9} {fill:>9}")
    print(f"(speed is x-realtime relative to {first}'s; once up = x-realtime from the 16th call "
          "finished to the last, with 32 calls or more; micro-F1 = `qcpipe eval` with the default rulebook; "
          "win/batch = windows per decoded batch, on a GPU)")
    for variant, r in results.items():
        if r.get("decoded_again"):
            again, windows = r["decoded_again"]
            print(f"{variant}: {again} of {windows} windows ({again / windows:.0%}) decoded again with the beam "
                  "after the greedy first pass")
    others = [(first, base["lanes"])]  # each variant less the first, and less each of --against's
    if args.against:
        saved = json.loads(args.against.read_text())
        others += [(f"{args.against.name}:{name}", lanes) for name, lanes in saved.items()]
    for other, lanes in others:
        for variant, r in results.items():
            if r["lanes"] is lanes:
                continue
            if [chars for _, chars in r["lanes"]] != [chars for _, chars in lanes]:
                print(f"CER {variant} less {other}: not the same calls' parties, not compared")
                continue
            difference, low, high = _cer_difference(r["lanes"], lanes)
            print(f"CER {variant} less {other}: {difference:+.2f} points "
                  f"(95 % interval over the {len(lanes)} parties heard: {low:+.2f} to {high:+.2f})")
    if args.save_lanes:
        args.save_lanes.write_text(json.dumps({name: r["lanes"] for name, r in results.items()}))


if __name__ == "__main__":
    main()
