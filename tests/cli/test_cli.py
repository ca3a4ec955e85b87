"""The commands a user types, run as a user runs them: a real process, real files, real SQLite."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.audio import settled
from tests.helpers.cli import qcpipe
from tests.helpers.paths import SAMPLES

pytestmark = pytest.mark.asr


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """`qcpipe run` over the bundled samples with a GBK manifest, plus one broken file."""
    home = tmp_path_factory.mktemp("home")
    day = tmp_path_factory.mktemp("day")
    shutil.copytree(SAMPLES / "audio", day / "audio")
    text = (SAMPLES / "calls.csv").read_text(encoding="utf-8") + "BROKEN,audio/BROKEN.wav,A01,张伟,一组,2026-10-01T09:00:00+08:00,5\n"
    (day / "audio" / "BROKEN.wav").write_bytes(b"RIFF\x00\x00")
    settled(day / "audio" / "BROKEN.wav")
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
    assert "服务太差" in result.stdout and "再见" in result.stdout  # the customer's lane and the agent's


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


def test_export_findings_jsonl_contract(sample_run) -> None:
    home, _day, _ = sample_run
    rows = [json.loads(line) for line in qcpipe("export", "findings", "--format", "jsonl", home=home).stdout.splitlines()]
    assert rows, "the sample calls include rule violations"
    for row in rows:
        assert {"call_id", "rule_id", "deduction", "speaker", "start", "end", "quote", "status"} <= row.keys()
        assert row["status"] == "open" and row["speaker"] != "customer"
    # D110000's agent says a 禁语 (嘴巴干净一点) in the dev labels.
    assert any(r["call_id"] == "D110000" and r["rule_id"] == "forbidden_phrase" for r in rows)


def test_changing_a_rule_and_rescoring(sample_run, tmp_path: Path) -> None:
    home, _day, _ = sample_run
    default = Path(__file__).resolve().parents[2] / "configs" / "rules" / "default.yaml"
    before = [json.loads(x) for x in qcpipe("export", "findings", home=home).stdout.splitlines()]
    greeting_before = [r for r in before if r["rule_id"] == "greeting"]
    assert greeting_before and all(r["deduction"] == 5 for r in greeting_before)

    edited = tmp_path / "rules.yaml"
    text = default.read_text(encoding="utf-8")
    marker = "id: greeting"
    head, tail = text.split(marker, 1)
    edited.write_text(head + marker + tail.replace("deduction: 5", "deduction: 8", 1), encoding="utf-8")
    result = qcpipe("score", "--rules", str(edited), home=home)
    assert "scored 4 calls" in result.stdout
    after = [json.loads(x) for x in qcpipe("export", "findings", home=home).stdout.splitlines()]
    greeting_after = [r for r in after if r["rule_id"] == "greeting"]
    assert {r["call_id"] for r in greeting_after} == {r["call_id"] for r in greeting_before}
    assert all(r["deduction"] == 8 for r in greeting_after)
    assert {r["rulebook_hash"] for r in after} != {r["rulebook_hash"] for r in before}
    qcpipe("score", home=home)  # back to the default rulebook for the other tests


def test_eval_against_labels(sample_run, dev_corpus: Path, tmp_path: Path) -> None:
    home, _day, _ = sample_run
    result = qcpipe("eval", str(dev_corpus / "labels"), home=home)
    assert "micro" in result.stdout and "calls compared: 4" in result.stdout
    bad = tmp_path / "labels"
    bad.mkdir()
    (bad / "D110000.json").write_text("{not json", encoding="utf-8")
    failed = qcpipe("eval", str(bad), home=home, check=False)
    assert failed.returncode != 0 and "D110000.json" in failed.stderr


def test_asking_for_a_gpu_that_is_not_there_stops_before_any_work(tmp_path: Path) -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count():
        pytest.skip("this machine has a CUDA device")
    result = qcpipe("run", str(SAMPLES / "audio"), "--device", "cuda", home=tmp_path, check=False)
    assert result.returncode == 1
    assert "no CUDA device" in result.stderr
    assert "transcribing" not in result.stderr  # refused before the progress bar, not halfway into it
