"""The CTI manifest in the encodings CTI systems export, and folder discovery."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from qcpipe.errors import ManifestError
from qcpipe.ingest import CallSource, discover, read_manifest, sources_for

HEADER = "call_id,audio,agent_id,agent_name,team,started_at,queue_wait_s\n"
ROWS = "C1,audio/C1.wav,A03,王磊,一组,2026-10-02T09:15:00+08:00,45\nC2,audio/C2.wav,A07,刘洋,二组,2026-10-02T10:00:00,5\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_manifest_in_utf8_and_gbk(tmp_path: Path, encoding: str) -> None:
    manifest = tmp_path / "calls.csv"
    manifest.write_bytes((HEADER + ROWS).encode(encoding))
    first, second = read_manifest(manifest)
    assert (first.call_id, first.agent_id, first.agent_name, first.team) == ("C1", "A03", "王磊", "一组")
    assert first.audio_path == tmp_path / "audio" / "C1.wav"  # relative to the manifest
    assert first.queue_wait_s == 45.0
    assert first.started_at.utcoffset() == timedelta(hours=8)
    assert second.agent_name == "刘洋"
    # No offset in the export: read in the center's time zone.
    assert second.started_at.utcoffset() == timedelta(hours=8)


def test_extra_columns_are_kept_and_optional_ones_may_be_missing(tmp_path: Path) -> None:
    manifest = tmp_path / "calls.csv"
    manifest.write_text("call_id,audio,skill_group\nC9,x.wav,billing\n", encoding="utf-8")
    (source,) = read_manifest(manifest)
    assert source.extra == {"skill_group": "billing"}
    assert source.agent_id is None and source.started_at is None


@pytest.mark.parametrize(
    "body,line,message",
    [
        ("call_id,agent_id\nC1,A1\n", 1, "missing column"),
        (HEADER + "C1,a.wav,A1,x,y,2026-10-02T09:15:00+08:00,5\nC1,b.wav,A1,x,y,,\n", 3, "duplicate call_id C1"),
        (HEADER + "C1,a.wav,A1,x,y,yesterday,5\n", 2, "started_at 'yesterday'"),
        (HEADER + "C1,a.wav,A1,x,y,,forty\n", 2, "queue_wait_s 'forty'"),
        (HEADER + ",a.wav,A1,x,y,,\n", 2, "empty call_id"),
        # What the database cannot hold (PostgreSQL refuses it, and one such call would stop the run)
        (HEADER + "C1,a.wav,A1," + "名" * 101 + ",y,,\n", 2, "agent_name is 101 characters long; the database holds 100"),
        (HEADER + "C1,a.wav,A1,x,y,,\n" + "C" * 129 + ",b.wav,A1,x,y,,\n", 3, "call_id is 129 characters long"),
        (HEADER + "C1,a.wav,A1,x,一\x00组,,\n", 2, "a NUL character"),
    ],
)
def test_bad_manifest_names_file_and_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    manifest = tmp_path / "calls.csv"
    manifest.write_text(body, encoding="utf-8")
    with pytest.raises(ManifestError, match=rf"calls\.csv, line {line}: .*{message}"):
        read_manifest(manifest)


def test_binary_manifest_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "calls.csv"
    manifest.write_bytes(b"\xff\xfe\x00\x81\xfe\xff" * 10)
    with pytest.raises(ManifestError, match="not UTF-8 or GBK"):
        read_manifest(manifest)


def test_folder_discovery_is_recursive_and_uses_file_stems(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x1.wav", "a/b/x2.FLAC", "a/b/x3.mp3", "notes.txt", "a/readme.md"):
        (tmp_path / name).write_bytes(b"...")
    assert sorted(s.call_id for s in discover(tmp_path)) == ["x1", "x2", "x3"]
    (single,) = discover(tmp_path / "a" / "x1.wav")
    assert single.call_id == "x1" and single.agent_id is None


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file or folder"):
        list(discover(tmp_path / "nope"))


def test_run_scope_limits_manifest_rows(tmp_path: Path) -> None:
    manifest = tmp_path / "calls.csv"
    manifest.write_text(HEADER + "C1,day1/C1.wav,,,,,\nC2,day2/C2.wav,,,,,\n", encoding="utf-8")
    for folder in ("day1", "day2"):
        (tmp_path / folder).mkdir()
    assert [s.call_id for s in sources_for(tmp_path / "day2", manifest)] == ["C2"]
    assert [s.call_id for s in sources_for(tmp_path, manifest)] == ["C1", "C2"]


def _live_call_sources() -> int:
    import gc

    return sum(isinstance(o, CallSource) for o in gc.get_objects())


def test_a_10000_file_folder_and_manifest_are_streamed(tmp_path: Path) -> None:
    """A night of 10,000 recordings is walked, and a 10,000-row manifest read, one call at a
    time: however far the batch has gone, only the call in hand is held, never the night."""
    rows = [HEADER.strip()]
    for folder in range(100):
        (tmp_path / f"queue{folder:02d}").mkdir()
        for call in range(100):
            name = f"queue{folder:02d}/C{folder:02d}{call:03d}.wav"
            (tmp_path / name).touch()
            rows.append(f"C{folder:02d}{call:03d},{name},A{call % 30:02d},,一组,2026-10-02T09:15:00+08:00,5")
    (tmp_path / "calls.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for manifest in (None, tmp_path / "calls.csv"):
        sources = sources_for(tmp_path, manifest)
        assert len(sources) == 10_000
        held = [_live_call_sources() for number, _ in enumerate(sources) if number % 2000 == 1999]
        assert len(held) == 5 and max(held) <= 3, (manifest, held)
        listed = list(sources)
        assert _live_call_sources() >= 10_000  # what holding the night would look like
        del listed


def test_a_folder_loop_is_searched_once_and_noted(tmp_path: Path) -> None:
    import os

    (tmp_path / "day" / "queue").mkdir(parents=True)
    (tmp_path / "day" / "queue" / "C1.wav").touch()
    os.symlink("../..", tmp_path / "day" / "queue" / "up")
    sources = sources_for(tmp_path / "day")
    assert [s.call_id for s in sources] == ["C1"]
    assert any("symlink loop" in warning for warning in sources.warnings)


def test_file_names_that_are_not_utf8_get_readable_call_ids(tmp_path: Path) -> None:
    import os

    for raw in ("测试".encode("gbk") + b".wav", b"caf\xe9.wav"):
        open(os.path.join(os.fsencode(tmp_path), raw), "wb").close()
    assert sorted(s.call_id for s in discover(tmp_path)) == ["caf\\xe9", "测试"]


def test_an_exactly_repeated_row_is_read_once(tmp_path: Path) -> None:
    manifest = tmp_path / "calls.csv"
    manifest.write_text(HEADER + ROWS + ROWS.splitlines()[0] + "\n", encoding="utf-8")
    read = read_manifest(manifest)
    assert [s.call_id for s in read] == ["C1", "C2"] and len(read) == 2
    assert read.warnings == [f"{manifest}, line 4: call C1 repeats line 2 exactly; processed once"]
