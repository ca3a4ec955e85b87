"""A normal (non-editable) install works: the wheel carries the default rulebook, the settings
template and the migrations, and `qcpipe` runs from it with nothing of the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from qcpipe.scoring import load_rulebook
from tests.helpers.audio import settled
from tests.helpers.paths import REPO, SAMPLES

pytestmark = pytest.mark.asr  # the last step runs the real model on a sample call


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the qcpipe wheel installed; its dependencies are the
    test environment's (a .pth line), so no package is downloaded but qcpipe's own build tools."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", str(work), str(REPO)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    wheel = next(work.glob("qcpipe-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
         "--disable-pip-version-check", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # Path lines only: the test environment's .pth files (its editable qcpipe) are not run.
    Path(site, "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    return venv


def _qcpipe(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCPIPE_")}
    env.update(QCPIPE_HOME=str(cwd / "home"), QCPIPE_MODELS_DIR=str(REPO / "models"), COLUMNS="200")
    return subprocess.run(
        [str(venv / "bin" / "qcpipe"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_wheel_is_what_runs(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import qcpipe; print(qcpipe.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed), where


def test_the_shipped_rulebook_checks(installed, tmp_path):
    result = _qcpipe(installed, "rules", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    checks = len(load_rulebook(REPO / "configs" / "rules" / "default.yaml").rules)
    assert f"{checks} checks" in result.stdout and "greeting" in result.stdout and "hold_notice" in result.stdout
    shipped = _qcpipe(installed, "rules", "default", cwd=tmp_path)
    assert shipped.stdout == (REPO / "configs" / "rules" / "default.yaml").read_text(encoding="utf-8")
    template = _qcpipe(installed, "config", "template", cwd=tmp_path)
    assert template.returncode == 0 and "[scoring]" in template.stdout


def test_a_sample_call_runs_from_the_wheel(installed, tmp_path):
    audio = tmp_path / "D110023.wav"
    shutil.copy(SAMPLES / "audio" / "D110023.wav", audio)
    settled(audio)
    run = _qcpipe(installed, "run", str(audio), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "calls done 1" in run.stdout
    transcript = _qcpipe(installed, "transcript", "D110023", cwd=tmp_path)
    assert transcript.returncode == 0 and "坐席" in transcript.stdout
    assert (tmp_path / "home" / "qcpipe.db").is_file()
