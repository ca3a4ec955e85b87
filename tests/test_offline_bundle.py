"""scripts/offline_bundle.sh: its arguments (making a bundle downloads from PyPI, so it is
checked by hand, not here: `scripts/offline_bundle.sh DIR`, then `bash DIR/install.sh` offline)."""

from __future__ import annotations

import subprocess

from tests.helpers.paths import REPO

SCRIPT = REPO / "scripts" / "offline_bundle.sh"


def _bundle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_without_a_folder_it_says_how_it_is_used() -> None:
    result = _bundle()
    assert result.returncode == 2
    assert "install.sh" in result.stderr and "--python-version" in result.stderr


def test_an_unknown_option_is_named(tmp_path) -> None:
    result = _bundle(str(tmp_path / "bundle"), "--python", "3.12")
    assert result.returncode == 2
    assert "unknown option: --python" in result.stderr
    assert not (tmp_path / "bundle").exists()  # nothing made
