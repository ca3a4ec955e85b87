"""Degraded variants of dev-corpus calls: the robustness corpus, generated on demand, never committed.

Each variant models one thing that happens to real call-center recordings (line echo, a noisy
room, a mobile codec, lost packets, a hot line, a slow or fast talker). A variant is a function
`(audio, rate, context) -> audio` on float32 samples shaped (channels, n) at the file's own
sample rate (the dev corpus is 8 kHz stereo: channel 0 the agent, 1 the customer); the result has
the same shape, except the tempo variants, which change n. Everything random comes from a numpy
Generator seeded from the call id and the variant name, so a variant of a call is the same file
on every run and every machine.

    degrade_corpus(DEV_CORPUS, tmp / "gsm", "gsm", ["D110000", "D110001"])
    # tmp/gsm/audio/D110000.wav …, tmp/gsm/calls.csv, tmp/gsm/labels -> DEV_CORPUS/labels

`available_variants()` leaves out the variants whose tools are missing here (amr-nb needs an
ffmpeg built with libopencore_amrnb; gsm needs libsndfile's GSM 6.10).
"""

from __future__ import annotations

import csv
import functools
import io
import os
import shutil
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile

AGENT, CUSTOMER = 0, 1
CLEAN = "clean"  # degrade_corpus's name for "the corpus files unaltered"
FRAME_S = 0.020  # the frame of the level and activity measures


@dataclass(frozen=True)
class Context:
    """What a variant may use besides the samples: the call, the corpus (babble takes other
    calls from it) and the call's own random generator."""

    call_id: str
    corpus_dir: Path
    rng: np.random.Generator


Variant = Callable[[np.ndarray, int, Context], np.ndarray]


def rng_for(call_id: str, variant: str) -> np.random.Generator:
    """The deterministic generator of one variant of one call."""
    return np.random.default_rng(zlib.crc32(f"{call_id}/{variant}".encode()))


# ---------------------------------------------------------------------------------------------
# Measures shared by the variants (and by the checks of them)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def frame_levels(channel: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """Level in dBFS of each whole 20 ms frame of one channel, and the frame length in samples."""
    frame = max(1, round(FRAME_S * rate))
    count = len(channel) // frame
    power = np.mean(np.square(channel[: count * frame].reshape(count, frame), dtype=np.float64), axis=1)
    return 10 * np.log10(power + 1e-12), frame


def active_mask(channel: np.ndarray, rate: int) -> np.ndarray:
    """Which samples of a channel are active speech (a boolean mask, False in the last partial frame).

    The rule: split the channel into 20 ms frames and take the level of each; the noise floor is
    the 10th percentile of those levels (calls are mostly pauses and the other party talking) and
    the speech peak the 99th; a frame is active when it is 15 dB above the floor, or when that
    is unreachable, within 10 dB of the peak. On the dev corpus (line noise at about −40 dBFS,
    speech at −25…−14 dBFS) the threshold falls at about −27 dBFS: the louder frames, speech.
    """
    levels, frame = frame_levels(channel, rate)
    mask = np.zeros(len(channel), dtype=bool)
    if not len(levels):
        return mask
    floor, peak = np.percentile(levels, [10, 99])
    threshold = min(floor + 15.0, peak - 10.0)
    mask[: len(levels) * frame] = np.repeat(levels > threshold, frame)
    return mask


def active_rms(channel: np.ndarray, rate: int) -> float:
    """RMS of a channel's active speech (`active_mask`)."""
    return rms(channel[active_mask(channel, rate)])


def _bandpass(rate: int, low: float = 300.0, high: float = 3000.0, taps: int = 33) -> np.ndarray:
    """A linear-phase FIR band-pass (windowed sinc, Hamming), unit gain in the pass band."""
    high = min(high, 0.45 * rate)
    t = np.arange(taps) - (taps - 1) / 2
    kernel = (2 * high / rate) * np.sinc(2 * high / rate * t) - (2 * low / rate) * np.sinc(2 * low / rate * t)
    return (kernel * np.hamming(taps)).astype(np.float64)


def _resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """One channel from `rate` to `target` Hz (soxr, high quality); unchanged when equal."""
    if rate == target:
        return x
    import soxr

    return soxr.resample(x.astype(np.float32), rate, target, quality="HQ").astype(np.float32)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad a channel to n samples."""
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def _through_8k(channel: np.ndarray, rate: int, codec: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Run a codec that works at 8 kHz on one channel: resample there and back, same length."""
    narrow = _resample(channel, rate, 8000)
    coded = _fit(codec(narrow), len(narrow))
    return _fit(_resample(coded, 8000, rate), len(channel))


def _soundfile_round_trip(subtype: str) -> Callable[[np.ndarray], np.ndarray]:
    """An 8 kHz mono channel written as a WAV of `subtype` into memory and read back."""

    def codec(channel: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        soundfile.write(buffer, np.clip(channel, -1.0, 1.0), 8000, subtype=subtype, format="WAV")
        buffer.seek(0)
        return soundfile.read(buffer, dtype="float32")[0]

    return codec


# ---------------------------------------------------------------------------------------------
# The variants


def _crosstalk(x: np.ndarray, rate: int, ctx: Context, source: int, target: int, below_db: float) -> np.ndarray:
    """Channel `source` leaks into channel `target`, `below_db` dB under `source`'s own level.

    The leak path is a telephone hybrid's echo path: a delay of 5–20 ms (drawn per call), a
    300–3000 Hz band-pass (33-tap FIR), then a gain that puts the leak's RMS exactly `below_db`
    under the RMS of the source channel (both over the whole call)."""
    delay = round(ctx.rng.uniform(0.005, 0.020) * rate)
    kernel = _bandpass(rate)
    group = (len(kernel) - 1) // 2
    filtered = np.convolve(x[source].astype(np.float64), kernel)[: x.shape[1]]
    shift = max(delay - group, 0)  # the FIR's own delay is part of the path's
    leak = np.zeros(x.shape[1])
    leak[shift:] = filtered[: x.shape[1] - shift]
    leak *= rms(x[source]) / max(rms(leak), 1e-12) * 10 ** (-below_db / 20)
    y = x.copy()
    y[target] = x[target] + leak.astype(np.float32)
    return y


def _crosstalk_variant(source: int, target: int, below_db: float) -> Variant:
    who = {AGENT: "agent", CUSTOMER: "customer"}

    def variant(x: np.ndarray, rate: int, ctx: Context) -> np.ndarray:
        return _crosstalk(x, rate, ctx, source, target, below_db)

    variant.__doc__ = (
        f"Line echo / headset bleed: the {who[source]}'s channel leaks into the {who[target]}'s, "
        f"{below_db:g} dB below the {who[source]}'s level, delayed 5–20 ms and band-passed 300–3000 Hz "
        "(a telephone hybrid's echo path)."
    )
    variant.__name__ = f"crosstalk_{who[source][0]}2{who[target][0]}_{below_db:g}"
    return variant


@functools.lru_cache(maxsize=64)
def _agent_channel(path: str) -> tuple[np.ndarray, int]:
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio[:, AGENT]), rate


def _manifest_rows(corpus_dir: Path) -> list[dict[str, str]]:
    with open(corpus_dir / "calls.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def babble(x: np.ndarray, rate: int, ctx: Context, below_db: float = 15.0) -> np.ndarray:
    """Other agents talking in the room, picked up by the agent's headset.

    The agent channels of 3 other corpus calls (drawn per call), each started at a random
    offset and looped or cut to the call's length, are summed and added to the agent channel
    over the whole call (pauses included), scaled so that the babble's RMS is 15 dB below the
    RMS of the agent's active speech (`active_mask`: 20 ms frames 15 dB over the channel's noise
    floor)."""
    rows = [r for r in _manifest_rows(ctx.corpus_dir) if r["call_id"] != ctx.call_id]
    picked = ctx.rng.choice(len(rows), size=3, replace=False)
    n = x.shape[1]
    noise = np.zeros(n, dtype=np.float64)
    for index in picked:
        other, other_rate = _agent_channel(str(ctx.corpus_dir / rows[index]["audio"]))
        other = _resample(other, other_rate, rate)
        start = int(ctx.rng.integers(len(other)))
        noise += np.resize(np.roll(other, -start), n)  # np.resize repeats (loops) to length
    noise *= active_rms(x[AGENT], rate) * 10 ** (-below_db / 20) / max(rms(noise), 1e-12)
    y = x.copy()
    y[AGENT] = x[AGENT] + noise.astype(np.float32)
    return y


def gsm(x: np.ndarray, rate: int, ctx: Context) -> np.ndarray:
    """GSM 06.10 full rate (13 kbit/s) on both legs: a mobile network's codec, and how many
    recorders store calls to save disk (WAV49 / "GSM WAV"). libsndfile codes it (WAV subtype
    GSM610) at 8 kHz, resampled there and back when the file is not."""
    codec = _soundfile_round_trip("GSM610")
    return np.stack([_through_8k(channel, rate, codec) for channel in x])


def _amr_nb_codec(channel: np.ndarray) -> np.ndarray:
    """8 kHz mono through ffmpeg's libopencore_amrnb encoder at 12.2 kbit/s and its amrnb decoder."""
    pcm = (np.clip(channel, -1.0, 1.0 - 1 / 32768) * 32768).astype("<i2").tobytes()
    common = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    encoded = subprocess.run(
        [*common, "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", "pipe:0",
         "-c:a", "libopencore_amrnb", "-b:a", "12.2k", "-f", "amr", "pipe:1"],
        input=pcm, capture_output=True, check=True,
    ).stdout
    decoded = subprocess.run(
        [*common, "-f", "amr", "-i", "pipe:0", "-f", "s16le", "-ar", "8000", "-ac", "1", "pipe:1"],
        input=encoded, capture_output=True, check=True,
    ).stdout
    return np.frombuffer(decoded, dtype="<i2").astype(np.float32) / 32768


def amr_nb(x: np.ndarray, rate: int, ctx: Context) -> np.ndarray:
    """A mobile customer on a 3G/VoLTE-era codec: the customer's leg through AMR-NB 12.2 kbit/s
    (ffmpeg, libopencore_amrnb), at 8 kHz."""
    y = x.copy()
    y[CUSTOMER] = _through_8k(x[CUSTOMER], rate, _amr_nb_codec)
    return y


def _g711(subtype: str, name: str) -> Variant:
    def variant(x: np.ndarray, rate: int, ctx: Context) -> np.ndarray:
        codec = _soundfile_round_trip(subtype)
        return np.stack([_through_8k(channel, rate, codec) for channel in x])

    variant.__doc__ = (f"A G.711 {name} trunk: both channels at 8 kHz through 8-bit {name} companding "
                       f"(WAV subtype {subtype}) and back.")
    variant.__name__ = subtype.lower()
    return variant


def packet_loss(x: np.ndarray, rate: int, ctx: Context, share: float = 0.03) -> np.ndarray:
    """VoIP packet loss without concealment: each channel, independently, loses stretches of
    20–60 ms (uniform; zeroed) about 3 % of the time. Losses are a renewal process: exponential
    gaps with mean 40 ms × 97/3 between bursts, so bursts never overlap."""
    n = x.shape[1]
    y = x.copy()
    mean_burst = 0.040
    mean_gap = mean_burst * (1 - share) / share
    count = int(np.ceil(n / rate / (mean_gap + mean_burst) * 2)) + 16
    for channel in range(x.shape[0]):
        bursts = np.round(ctx.rng.uniform(0.020, 0.060, count) * rate).astype(np.int64)
        gaps = np.round(ctx.rng.exponential(mean_gap, count) * rate).astype(np.int64)
        starts = np.cumsum(gaps + np.concatenate([[0], bursts[:-1]]))
        ends = starts + bursts
        keep = starts < n
        edges = np.zeros(n + 1, dtype=np.int64)
        np.add.at(edges, starts[keep], 1)
        np.add.at(edges, np.minimum(ends[keep], n), -1)
        y[channel, np.cumsum(edges[:n]) > 0] = 0.0
    return y


def clipping(x: np.ndarray, rate: int, ctx: Context, share: float = 0.02) -> np.ndarray:
    """A hot line / overdriven recorder: the whole call amplified until about 2 % of the speech
    samples exceed full scale, then hard-clipped at ±1.

    The rule: speech samples are those in active frames (`active_mask`) of either channel,
    pooled; the gain is 1 / (the 98th percentile of their magnitudes), the same for both
    channels, so 2 % of them land beyond ±1 and are cut there (pauses and soft sounds are
    louder but unclipped)."""
    speech = np.concatenate([np.abs(channel[active_mask(channel, rate)]) for channel in x])
    if not speech.size:
        speech = np.abs(x).ravel()
    gain = 1.0 / max(float(np.quantile(speech, 1 - share)), 1e-6)
    return np.clip(x * gain, -1.0, 1.0).astype(np.float32)


def _level(db: float) -> Variant:
    def variant(x: np.ndarray, rate: int, ctx: Context) -> np.ndarray:
        return np.clip(x * 10 ** (db / 20), -1.0, 1.0).astype(np.float32)

    variant.__doc__ = (f"A {'hot' if db > 0 else 'quiet'} line or misset recorder gain: both channels "
                       f"{db:+g} dB, clipped at ±1 afterwards.")
    variant.__name__ = f"level_{'plus' if db > 0 else 'minus'}{abs(db):g}"
    return variant


def wsola(x: np.ndarray, rate: int, speed: float, frame_s: float = 0.040, tolerance_s: float = 0.010) -> np.ndarray:
    """Time-stretch (channels, n) by WSOLA so that it plays `speed` times as fast, pitch unchanged.

    Output frames of `frame_s` (Hann window, 50 % overlap: hop Hs) are taken from the input at
    nominal positions k·Hs·speed, each moved within ±`tolerance_s` to where the input looks most
    like the natural continuation of the previous frame (cross-correlation on the sum of the
    channels); every channel is cut at the same positions, so the channels stay aligned. The
    output has round(n / speed) samples."""
    channels, n = x.shape
    hop = max(1, round(frame_s * rate / 2))
    size = 2 * hop
    delta = max(1, round(tolerance_s * rate))
    n_out = round(n / speed)
    frames = int(np.ceil(n_out / hop)) + 2
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)).astype(np.float32)  # periodic: sums to 1
    front = hop + delta  # so the first frame, centred on input sample 0, has room to search
    length = front + int(np.ceil(frames * hop * speed)) + size + 2 * delta
    padded = np.zeros((channels, length), dtype=np.float32)
    padded[:, front : front + n] = x
    guide = padded.sum(axis=0)
    out = np.zeros((channels, frames * hop + size), dtype=np.float32)
    previous = None
    for k in range(frames):
        nominal = front - hop + round(k * hop * speed)  # frame k is centred on input sample k·Hs·speed
        if previous is None:
            chosen = nominal
        else:
            template = guide[previous + hop : previous + hop + size]
            region = guide[nominal - delta : nominal + delta + size]
            similarity = np.correlate(region, template, mode="valid")
            chosen = nominal - delta + int(np.argmax(similarity))
        out[:, k * hop : k * hop + size] += padded[:, chosen : chosen + size] * window
        previous = chosen
    return out[:, hop : hop + n_out]  # output frame k is centred on output sample k·Hs


def _tempo(speed: float) -> Variant:
    def variant(x: np.ndarray, rate: int, ctx: Context) -> np.ndarray:
        return wsola(x, rate, speed)

    variant.__doc__ = (f"A {'slow' if speed < 1 else 'fast'} talker (or a recorder's speed setting): the whole call "
                       f"played {speed:g}× as fast, pitch unchanged (WSOLA, both channels cut alike).")
    variant.__name__ = f"tempo_{speed:g}"
    return variant


VARIANTS: dict[str, Variant] = {
    **{f"crosstalk-c2a-{db}": _crosstalk_variant(CUSTOMER, AGENT, db) for db in (20, 15, 10)},
    **{f"crosstalk-a2c-{db}": _crosstalk_variant(AGENT, CUSTOMER, db) for db in (20, 15, 10)},
    "babble-15": babble,
    "gsm": gsm,
    "amr-nb": amr_nb,
    "ulaw": _g711("ULAW", "μ-law"),
    "alaw": _g711("ALAW", "A-law"),
    "packet-loss": packet_loss,
    "clipping": clipping,
    "level+12": _level(12.0),
    "level-12": _level(-12.0),
    "tempo-0.90": _tempo(0.90),
    "tempo-1.15": _tempo(1.15),
}


@functools.lru_cache(maxsize=1)
def _ffmpeg_encoders() -> str:
    if shutil.which("ffmpeg") is None:
        return ""
    try:
        return subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _available(name: str) -> bool:
    if name == "amr-nb":
        return "libopencore_amrnb" in _ffmpeg_encoders()
    if name == "gsm":
        return "GSM610" in soundfile.available_subtypes("WAV")
    if name in ("ulaw", "alaw"):
        return name.upper() in soundfile.available_subtypes("WAV")
    return True


def available_variants() -> list[str]:
    """The variants that can be built on this machine, in VARIANTS order."""
    return [name for name in VARIANTS if _available(name)]


# ---------------------------------------------------------------------------------------------
# Files and corpora


def degrade(x: np.ndarray, rate: int, variant: str, call_id: str, corpus_dir: Path) -> np.ndarray:
    """One variant of a call's samples (float32, (channels, n)); the generator is the call's."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if x.ndim != 2 or x.shape[0] != 2:
        raise ValueError(f"{call_id}: expected a stereo call (2, n), got {x.shape}")
    context = Context(call_id=call_id, corpus_dir=Path(corpus_dir), rng=rng_for(call_id, variant))
    return VARIANTS[variant](np.ascontiguousarray(x, dtype=np.float32), rate, context)


def degrade_file(source: Path, target: Path, variant: str, call_id: str, corpus_dir: Path) -> None:
    """Read a stereo recording (any format soundfile reads), build `variant` of it and write it
    to `target` as a stereo PCM16 WAV at the source's sample rate."""
    audio, rate = soundfile.read(str(source), dtype="float32", always_2d=True)
    result = degrade(audio.T, rate, variant, call_id, corpus_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(target), np.clip(result, -1.0, 32767 / 32768).T, rate, subtype="PCM_16", format="WAV")


def degrade_corpus(corpus_dir: Path, out_dir: Path, variant: str, call_ids: Sequence[str] | None = None) -> Path:
    """A corpus folder of one variant: `out_dir/audio/<call_id>.wav`, `out_dir/calls.csv` (the corpus
    manifest's rows of the chosen calls, `audio` pointing at the new files) and `out_dir/labels`
    (a symlink to the corpus labels). `variant` may be "clean": the corpus files copied unaltered.
    The files are dated an hour back, since `qcpipe run` leaves just-written files alone.
    call_ids: the calls to build, all of the manifest when None. Returns out_dir."""
    corpus_dir, out_dir = Path(corpus_dir).resolve(), Path(out_dir)
    rows = _manifest_rows(corpus_dir)
    if call_ids is not None:
        wanted = list(dict.fromkeys(call_ids))
        known = {row["call_id"] for row in rows}
        missing = [c for c in wanted if c not in known]
        if missing:
            raise KeyError(f"not in {corpus_dir / 'calls.csv'}: {', '.join(missing)}")
        rows = [row for row in rows if row["call_id"] in set(wanted)]
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    written = []
    for row in rows:
        source = corpus_dir / row["audio"]
        if variant == CLEAN:
            target = out_dir / "audio" / source.name
            shutil.copyfile(source, target)
        else:
            target = out_dir / "audio" / f"{row['call_id']}.wav"
            degrade_file(source, target, variant, row["call_id"], corpus_dir)
        written.append(target)
        row["audio"] = target.relative_to(out_dir).as_posix()
    past = time.time() - 3600
    for path in written:
        os.utime(path, (past, past))
    with open(out_dir / "calls.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["call_id", "audio"])
        writer.writeheader()
        writer.writerows(rows)
    labels = out_dir / "labels"
    if not labels.exists() and not labels.is_symlink():
        labels.symlink_to(corpus_dir / "labels", target_is_directory=True)
    return out_dir
