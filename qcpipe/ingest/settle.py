"""Recordings that are complete: not modified in the last `settle_s`, not changing while read.

A recorder may still be writing a file when the nightly run finds it, and a folder copied in
just before the run is all recently modified. Neither is refused outright: a file modified in
the last `settle_s` is set aside in a small queue, ordered by when its settle time ends, and
the stream goes on with the others. A set-aside file is taken up as soon as its settle time is
over; those still waiting when the stream ends are waited for together, for what remains of
their settle time (never `settle_s` once per file). A file whose size or modification time
changed while it was set aside is still being written: it is reported unreadable, and the next
run tries it again.

The queue is bounded (`MOST_SET_ASIDE`): when it is full, the stream waits for the first file
in it to settle, so a night of 10,000 files copied in at once is never held as a list.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from qcpipe.asr.audio import file_sha256
from qcpipe.errors import AudioError
from qcpipe.ingest.sources import CallSource

# Enough to keep the stream going while a recorder finishes a few calls; small enough that a
# folder copied in all at once costs no more memory than this many sources.
MOST_SET_ASIDE = 256
ANNOUNCE_EVERY_S = 1.0


@dataclass(frozen=True)
class SettledRecording:
    """A recording that is complete, with the content hash of what was read."""

    source: CallSource
    content_hash: str


@dataclass(frozen=True)
class UnreadableRecording:
    """A recording that could not be read now (still being written, missing, no permission):
    the next run tries it again."""

    source: CallSource
    error: AudioError


@dataclass(frozen=True)
class SettleWait:
    """A wait about to start: `files` recently modified files are set aside, and the last of
    them settles in `seconds` (whole seconds, rounded up)."""

    seconds: int
    files: int

    def describe(self) -> str:
        files = "file" if self.files == 1 else "files"
        return f"waiting {self.seconds} s for {self.files} recently modified {files} to settle"


@dataclass(frozen=True)
class _FileState:
    """What a file looked like when it was first seen: a change since means it is being written."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> _FileState:
        return cls(info.st_size, info.st_mtime_ns)


@dataclass(order=True)
class _SetAside:
    settles_at: float  # time.monotonic() when its settle time is over
    order: int  # first seen first, among files that settle at the same moment
    source: CallSource = field(compare=False)
    state: _FileState = field(compare=False)
    seen_at: float = field(compare=False)  # time.monotonic() when it was first seen


def settled_recordings(
    sources: Iterable[CallSource],
    settle_s: float,
    *,
    wait: Callable[[float], None] = time.sleep,
    on_wait: Callable[[SettleWait], None] | None = None,
    most_set_aside: int = MOST_SET_ASIDE,
) -> Iterator[SettledRecording | UnreadableRecording]:
    """Each source, once, as settled (with its content hash) or unreadable (with the reason).

    Sources are read one at a time; a recently modified one comes out after the ones found
    behind it, once its settle time is over. `wait(seconds)` passes the time until then (the
    batch stores finished calls meanwhile); `on_wait` is told before a wait starts (at most
    once a second: a folder still being copied in makes many short waits).
    """
    set_aside: list[_SetAside] = []
    order = itertools.count()
    announced_at = -math.inf

    def wait_for_first() -> Iterator[SettledRecording | UnreadableRecording]:
        nonlocal announced_at
        now = time.monotonic()
        remaining = set_aside[0].settles_at - now
        if remaining > 0:
            if on_wait is not None and now - announced_at >= ANNOUNCE_EVERY_S:
                last = max(entry.settles_at for entry in set_aside) - now
                on_wait(SettleWait(seconds=max(1, math.ceil(last)), files=len(set_aside)))
                announced_at = now
            wait(remaining)
        yield from take_settled()

    def take_settled() -> Iterator[SettledRecording | UnreadableRecording]:
        while set_aside and set_aside[0].settles_at <= time.monotonic():
            entry = heapq.heappop(set_aside)
            yield _read(entry.source, entry.state, waited_s=time.monotonic() - entry.seen_at)

    for source in sources:
        yield from take_settled()
        try:
            info = os.stat(source.audio_path)
        except OSError as exc:
            yield UnreadableRecording(source, _cannot_read(source, exc))
            continue
        age = max(time.time() - info.st_mtime, 0.0)  # a time in the future counts as now
        if age >= settle_s:
            yield _read(source, _FileState.of(info))
            continue
        now = time.monotonic()
        entry = _SetAside(now + settle_s - age, next(order), source, _FileState.of(info), now)
        while len(set_aside) >= max(1, most_set_aside):
            yield from wait_for_first()
        heapq.heappush(set_aside, entry)
    while set_aside:
        yield from wait_for_first()


def _read(source: CallSource, seen: _FileState, waited_s: float = 0.0) -> SettledRecording | UnreadableRecording:
    """Hash the file if it is as it was when seen, and stays so while it is read."""
    path = source.audio_path
    try:
        before = _FileState.of(os.stat(path))
        if before != seen:
            change = (f"size {seen.size} → {before.size} bytes" if before.size != seen.size else "modified again")
            return UnreadableRecording(source, AudioError(path, f"still being written ({change} during a "
                                       f"{waited_s:.0f} s wait to settle); tried again on the next run"))
        content_hash = file_sha256(path)
        after = _FileState.of(os.stat(path))
    except OSError as exc:
        return UnreadableRecording(source, _cannot_read(source, exc))
    if after != before:
        return UnreadableRecording(source, AudioError(path, f"still being written (size {before.size} → "
                                   f"{after.size} bytes while it was read); tried again on the next run"))
    return SettledRecording(source, content_hash)


def _cannot_read(source: CallSource, exc: OSError) -> AudioError:
    return AudioError(source.audio_path, f"cannot read: {exc.strerror or exc}")
