"""Every command answers a database it cannot use with one plain line naming it, exit code 1.

Run in-process through `main()`, the one place that turns errors into messages and exit codes.
"""

from __future__ import annotations

import sqlite3
import sys

import pytest

from qcpipe.cli import main
from qcpipe.store import open_database
from tests.helpers.audio import settled
from tests.helpers.paths import DEV_CORPUS, SAMPLES

COMMANDS = [
    ["calls"],
    ["transcript", "D110000"],
    ["score"],
    ["eval", str(DEV_CORPUS / "labels")],
    ["flagged"],
    ["finding", "1"],
    ["review", "1", "--confirm", "--by", "李质检"],
    ["appeal", "1", "--by", "A03", "--reason", "不是我说的"],
    ["appeal-decide", "1", "--reject", "--by", "王主管"],
    ["calibration"],
    ["examples", "--rule", "greeting", "--out", "{tmp}/pack"],
    ["export", "transcripts"],
    ["export", "findings"],
    ["report", "monthly", "--month", "2026-10"],
    ["run", "{tmp}/audio"],
]


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["qcpipe", *args])
    monkeypatch.setenv("COLUMNS", "80")  # a narrow terminal must not break the message in two
    monkeypatch.delenv("QCPIPE_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def _not_a_database(path):
    path.write_bytes(b"<html><body>502 Bad Gateway</body></html>\n" * 50)


def _damaged_pages(path):
    """A real qcpipe database whose pages after the header were overwritten."""
    open_database(f"sqlite:///{path}").dispose()
    data = bytearray(path.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    path.write_bytes(bytes(data))


DAMAGES = {"not a database": _not_a_database, "damaged pages": _damaged_pages}


def _arguments(command: list[str], tmp_path) -> list[str]:
    """The command's arguments, with a folder holding a settled recording for `run`."""
    (tmp_path / "audio").mkdir()
    audio = tmp_path / "audio" / "D110000.flac"
    audio.write_bytes((SAMPLES / "audio" / "D110000.flac").read_bytes())
    settled(audio)
    return [part.replace("{tmp}", str(tmp_path)) for part in command]


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_damaged_database_is_one_line(monkeypatch, capsys, tmp_path, command, damage):
    args = _arguments(command, tmp_path)
    db = tmp_path / "broken.db"
    DAMAGES[damage](db)
    code, out, err = run_main(monkeypatch, capsys, *args, "--db", f"sqlite:///{db}")
    assert code == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(db) in lines[0], lines[0]
    assert "Traceback" not in err + out
    if damage == "not a database":
        assert "file is not a database" in lines[0]


def test_a_damaged_database_is_never_overwritten(monkeypatch, capsys, tmp_path):
    db = tmp_path / "broken.db"
    _not_a_database(db)
    before = db.read_bytes()
    run_main(monkeypatch, capsys, "score", "--db", f"sqlite:///{db}")
    assert db.read_bytes() == before
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db).execute("select * from sqlite_master").fetchall()


def test_a_folder_where_the_database_should_be(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "calls", "--db", f"sqlite:///{tmp_path}")
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err


def test_usage_errors_exit_2_with_the_reason(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "review", "1", "--by", "李质检", "--db", f"sqlite:///{tmp_path}/q.db")
    assert code == 2 and "exactly one of --confirm or --overturn" in err


def test_an_unknown_call_is_one_line(monkeypatch, capsys, db_url):
    code, _, err = run_main(monkeypatch, capsys, "transcript", "NOPE", "--db", db_url)
    assert code == 1 and err.strip() == "error: no call 'NOPE' in the database"


@pytest.mark.parametrize("command", [["finding"], ["review", "--confirm", "--by", "李质检"], ["appeal-decide", "--reject", "--by", "王主管"]])
def test_an_id_no_row_can_have_is_not_found(monkeypatch, capsys, db_url, command):
    """Beyond PostgreSQL's 32-bit ids: "no such finding", not the server's "integer out of range"."""
    code, _, err = run_main(monkeypatch, capsys, command[0], "99999999999", *command[1:], "--db", db_url)
    assert code == 1 and err.strip() in ("error: no finding 99999999999", "error: no appeal 99999999999"), err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unreachable_server_is_one_line_without_the_password(monkeypatch, capsys, tmp_path, command):
    """PostgreSQL's counterpart of a damaged file: nothing listens where the URL points."""
    url = "postgresql+psycopg://qc:s3cret@127.0.0.1:9/qc"  # the discard port: connection refused
    code, out, err = run_main(monkeypatch, capsys, *_arguments(command, tmp_path), "--db", url)
    assert code == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: postgresql+psycopg://qc:***@127.0.0.1:9/qc"), err
    assert "s3cret" not in err + out and "Traceback" not in err + out
