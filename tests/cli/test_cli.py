"""The commands a user types, run as a user runs them: a real process, real files, real SQLite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

pytestmark = pytest.mark.asr


def qcpipe(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QCPIPE_HOME": str(home), "COLUMNS": "200"}
    env.pop("QCPIPE_DB", None)
    result = subprocess.run(
        [sys.executable, "-m", "qcpipe", *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"qcpipe {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """`qcpipe run` over the bundled samples with a GBK manifest, plus one broken file."""
    home = tmp_path_factory.mktemp("home")
    day = tmp_path_factory.mktemp("day")
    shutil.copytree(SAMPLES / "audio", day / "audio")
    text = (SAMPLES / "calls.csv").read_text(encoding="utf-8") + "BROKEN,audio/BROKEN.wav,A01,张伟,一组,2026-10-01T09:00:00+08:00,5\n"
    (day / "audio" / "BROKEN.wav").write_bytes(b"RIFF\x00\x00")
    (day / "calls.csv").write_bytes(text.encode("gbk"))
    return home, day, qcpipe("run", str(day), "--manifest", str(day / "calls.csv"), home=home, check=False)


def test_run_reports_a_summary_and_exit_code_for_failures(sample_run) -> None:
    _home, _day, result = sample_run
    assert result.returncode == 3, result.stderr
    assert "calls done 4 · skipped 0 · failed 1" in result.stdout
    assert "realtime" in result.stdout
    assert "failed BROKEN:" in result.stdout and "BROKEN.wav" in result.stdout


def test_default_database_lives_in_qcpipe_home(sample_run) -> None:
    home, _day, _result = sample_run
    assert (home / "qcpipe.db").is_file()


def test_calls_lists_failures_with_reasons(sample_run) -> None:
    home, _day, _ = sample_run
    result = qcpipe("calls", "--status", "failed", home=home)
    assert "BROKEN" in result.stdout and "BROKEN.wav" in result.stdout
    assert "D110000" not in result.stdout


def test_transcript_shows_both_lanes_with_agent_metadata(sample_run) -> None:
    home, _day, _ = sample_run
    result = qcpipe("transcript", "D110008", home=home)
    assert "A05 陈晨" in result.stdout  # GBK manifest decoded
    assert "2026-09-02 12:09" in result.stdout  # shown in the center's time zone
    assert "投诉" in result.stdout and "再见" in result.stdout


def test_unknown_call_is_a_clear_error(sample_run) -> None:
    home, _day, _ = sample_run
    result = qcpipe("transcript", "NOPE", home=home, check=False)
    assert result.returncode == 1 and "no call 'NOPE'" in result.stderr


def test_export_transcripts_jsonl_contract(sample_run, tmp_path: Path) -> None:
    home, _day, _ = sample_run
    out = tmp_path / "day.jsonl"
    qcpipe("export", "transcripts", "--format", "jsonl", "-o", str(out), home=home)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["call_id"] for r in rows} == {"D110000", "D110008", "D110015", "D110023"}
    for row in rows:
        assert {"call_id", "role", "start", "end", "text"} <= row.keys()
        assert row["role"] in ("agent", "customer", "unknown")
        assert 0 <= row["start"] <= row["end"]
    stdout_rows = qcpipe("export", "transcripts", home=home).stdout.splitlines()
    assert len(stdout_rows) == len(rows)


def test_rerun_skips_everything(sample_run) -> None:
    home, day, _ = sample_run
    result = qcpipe("run", str(day), "--manifest", str(day / "calls.csv"), home=home, check=False)
    assert "calls done 0 · skipped 5 · failed 0" in result.stdout


def test_bad_manifest_stops_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text("call_id,agent_id\nC1,A1\n", encoding="utf-8")
    result = qcpipe("run", str(tmp_path), "--manifest", str(tmp_path / "calls.csv"), home=tmp_path, check=False)
    assert result.returncode == 1
    assert "calls.csv, line 1: missing column(s) audio" in result.stderr
    assert not (tmp_path / "qcpipe.db").exists()
