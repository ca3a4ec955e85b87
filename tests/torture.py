"""The torture set: every kind of broken input a recorder, a network share and a CTI export produce.

Generated, never committed: `python -m tests.torture OUT_DIR` writes the folder (a few MB),
`make_torture_set(folder)` does it for tests. Each case is a file (or a manifest row) and the
outcome `qcpipe run` must give it: done, or failed with a reason naming the file and the cause.

The audio comes from the dev corpus, cut short so that the whole set runs in CI in under a
minute; the real two-hour call is measured by scripts/bench_long_call.py.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from tests.helpers.paths import DEV_CORPUS

OPENING = "D110001.wav"  # agent greeting, then the customer's request
GBK_NAME = "测试".encode("gbk") + b".wav"  # a name written by a Chinese Windows system
LATIN1_NAME = b"caf\xe9.wav"  # neither UTF-8 nor GBK


@dataclass(frozen=True)
class Case:
    """What `qcpipe run` must do with one input: `outcome` done or failed, and for a failure a
    piece of the one-line reason (the file name is always in it too)."""

    call_id: str
    file: str
    outcome: str
    reason: str = ""
    heard: str = ""  # done: a word the transcript must hold


def _opening(seconds: float = 11.0) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(str(DEV_CORPUS / "audio" / OPENING), dtype="float32", always_2d=True)
    return data[: int(seconds * rate)], rate


def _long_call(seconds: float, rate: int) -> np.ndarray:
    """Dev calls end to end, `seconds` long, at `rate`."""
    pieces, total = [], 0
    for path in sorted((DEV_CORPUS / "audio").glob("*.wav")):
        data, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        pieces.append(data if source_rate == rate else soxr.resample(data, source_rate, rate))
        total += len(pieces[-1])
        if total >= seconds * rate:
            break
    return np.concatenate(pieces)[: int(seconds * rate)]


def _write(path: Path, data: np.ndarray, rate: int, subtype: str = "PCM_16", format: str = "WAV") -> None:
    soundfile.write(os.fsencode(path), data, rate, subtype=subtype, format=format)


def make_torture_set(folder: Path) -> list[Case]:
    """Write the torture folder; return the cases in it (folder mode: call id = file stem)."""
    folder.mkdir(parents=True, exist_ok=True)
    data, rate = _opening()
    cases: list[Case] = []

    def bad(name: str, content: bytes, reason: str) -> None:
        (folder / name).write_bytes(content)
        cases.append(Case(Path(name).stem, name, "failed", reason))

    def good(name: str, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16", format: str = "WAV",
             heard: str = "") -> None:
        _write(folder / name, samples, sample_rate, subtype, format)
        cases.append(Case(Path(name).stem, name, "done", heard=heard))

    whole = (folder / "whole.wav")
    _write(whole, data, rate)
    header = whole.read_bytes()
    whole.unlink()
    bad("truncated_header.wav", header[:30], "not a readable audio file")
    bad("zero_length.wav", b"", "empty file (0 bytes)")
    bad("html_page.wav", b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n" * 20, "not a readable audio file")
    for channels in (3, 6):
        _write(folder / f"channels_{channels}.wav", np.tile(data[:, :1], (1, channels)), rate)
        cases.append(Case(f"channels_{channels}", f"channels_{channels}.wav", "failed",
                          f"{channels} channels: a call recording is mono or stereo"))
    good("short_0_2s.wav", data[: int(0.2 * rate)], rate)
    good("silence_only.wav", np.zeros((30 * rate, 2), dtype=np.float32), rate)
    noise = np.random.default_rng(7).normal(0, 0.05, (30 * rate, 2)).astype(np.float32)
    good("noise_only.wav", noise, rate)
    for target in (8000, 11025, 22050, 44100, 48000):
        good(f"rate_{target}.wav", data if target == rate else soxr.resample(data, rate, target), target, heard="您好")
    good("pcm_8bit.wav", data, rate, "PCM_U8", heard="您好")
    good("float32.wav", data, rate, "FLOAT", heard="您好")
    _write(folder / "bad_frame.mp3", data, rate, "MPEG_LAYER_III", "MP3")
    mp3 = bytearray((folder / "bad_frame.mp3").read_bytes())
    middle = len(mp3) // 2
    mp3[middle : middle + 3000] = bytes(3000)  # a damaged stretch: libmpg123 gives up, FFmpeg skips it
    (folder / "bad_frame.mp3").write_bytes(bytes(mp3))
    cases.append(Case("bad_frame", "bad_frame.mp3", "done", heard="您好"))
    good("long_3min.flac", _long_call(180, rate), rate, "PCM_16", "FLAC", heard="您好")  # read in several blocks
    (folder / "sub").mkdir(exist_ok=True)
    os.symlink("..", folder / "sub" / "back_up")  # a folder loop: searched once, noted
    os.symlink("loop_b.wav", folder / "loop_a.wav")
    os.symlink("loop_a.wav", folder / "loop_b.wav")
    for name in ("loop_a", "loop_b"):
        cases.append(Case(name, f"{name}.wav", "failed", "Too many levels of symbolic links"))
    os.symlink("nowhere.wav", folder / "dangling.wav")
    cases.append(Case("dangling", "dangling.wav", "failed", "No such file or directory"))
    for raw, call_id in ((GBK_NAME, "测试"), (LATIN1_NAME, "caf\\xe9")):
        path = os.fsdecode(os.path.join(os.fsencode(folder), raw))
        _write(Path(path), data, rate)
        cases.append(Case(call_id, os.path.basename(path), "done", heard="您好"))
    locked = folder / "no_permission.wav"
    _write(locked, data, rate)
    locked.chmod(0)
    cases.append(Case("no_permission", "no_permission.wav", "failed", "Permission denied"))
    past = 1_700_000_000  # settled: written long before the run
    for entry in folder.rglob("*"):
        if not entry.is_symlink():
            os.utime(entry, (past, past))
    return cases


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.torture OUT_DIR")
    for case in make_torture_set(Path(sys.argv[1])):
        print(f"{case.outcome:6} {case.file}  {case.reason}")


if __name__ == "__main__":
    main()
