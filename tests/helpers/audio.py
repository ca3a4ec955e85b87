"""Audio files for tests: written from samples, dated as settled, or copied from the dev corpus."""

from __future__ import annotations

import csv
import os
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile

from tests.helpers.paths import DEV_CORPUS


def write_audio(path: Path, samples: np.ndarray, rate: int, subtype: str | None = None, format: str | None = None) -> Path:
    """Write (n, channels) float samples in a given container/subtype."""
    soundfile.write(str(path), samples, rate, subtype=subtype, format=format)
    return path


def settled(*paths: Path) -> None:
    """Date files an hour back: `qcpipe run` waits for a file modified in the last seconds to
    settle (a recorder may still be writing it), as it would for a file written by a test just now."""
    past = time.time() - 3600
    for path in paths:
        os.utime(path, (past, past))


def copy_calls(call_ids: list[str], dest: Path) -> Path:
    """Copy dev calls and a manifest of just those rows into `dest`; return the manifest path."""
    (dest / "audio").mkdir(parents=True, exist_ok=True)
    with open(DEV_CORPUS / "calls.csv", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["call_id"] in call_ids]
    for row in rows:
        shutil.copy2(DEV_CORPUS / row["audio"], dest / row["audio"])  # keeps the old mtime: a settled file
    manifest = dest / "calls.csv"
    with open(manifest, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest
