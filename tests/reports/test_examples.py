"""Trainer examples on the scored dev corpus: worst first, playable clips holding the evidence,
excerpts that quote it, never an overturned finding, indexes that point at real files."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import soundfile
from sqlalchemy import select, update

from qcpipe.errors import QcpipeError
from qcpipe.reports.examples import ExampleQuery, ExamplesError, ExampleSet, write_examples
from qcpipe.scoring import load_rulebook
from qcpipe.store import Agent, Call, FindingRecord, FindingStatus, Segment
from tests.helpers.cli import qcpipe

pytestmark = pytest.mark.asr
ZONE = "Asia/Shanghai"


def _examples(database, folder: Path, **query) -> ExampleSet:
    with database.session() as session:
        return write_examples(session, ExampleQuery(**query), folder, timezone=ZONE, known_rules=load_rulebook().rule_ids)


def _duration(database, call_id: str) -> float:
    with database.session() as session:
        return session.scalar(select(Call.duration_s).where(Call.call_id == call_id))


def _used_findings(database, rule_id: str) -> list[tuple[FindingRecord, Call]]:
    """The findings examples may show: open or confirmed (not overturned, and not uncertain: a
    finding not yet heard by a monitor, such as a sentence the meaning model raised)."""
    with database.session() as session:
        rows = session.execute(
            select(FindingRecord, Call).join(Call).where(
                FindingRecord.rule_id == rule_id,
                FindingRecord.status.in_([FindingStatus.OPEN, FindingStatus.CONFIRMED]),
            )
        )
        return [(f, c) for f, c in rows]


def _check_clip(folder: Path, example) -> None:
    """The clip plays (stereo, as long as it says) and holds the finding's span."""
    info = soundfile.info(str(folder / example.clip))
    assert info.channels == 2 and info.samplerate == example.sample_rate
    assert info.duration == pytest.approx(example.clip_end - example.clip_start, abs=0.01)
    assert example.clip_start <= example.start and example.end <= example.clip_end


def test_the_worst_examples_come_first_with_playable_clips_and_marked_quotes(dev_db, tmp_path: Path) -> None:
    result = _examples(dev_db, tmp_path, rule_id="forbidden_phrase", limit=6)
    assert len(result.examples) == 6 and not result.skipped
    candidates = _used_findings(dev_db, "forbidden_phrase")
    worst = sorted(candidates, key=lambda fc: (-fc[0].deduction, not fc[0].veto, -fc[1].started_at.timestamp(),
                                               fc[1].call_id, fc[0].start_s))
    assert [e.finding_id for e in result.examples] == [f.id for f, _ in worst[:6]]
    for example in result.examples:
        _check_clip(tmp_path, example)
        assert not example.missing and example.quote
        # 3 s of context each side, clamped to the call
        assert example.clip_start == pytest.approx(max(0.0, example.start - 3.0), abs=0.01)
        assert example.clip_end == pytest.approx(min(example.end + 3.0, _duration(dev_db, example.call_id)), abs=0.01)
        clip, rate = soundfile.read(str(tmp_path / example.clip), always_2d=True)
        with dev_db.session() as session:
            recording = session.scalar(select(Call.audio_path).where(Call.call_id == example.call_id))
        original, _ = soundfile.read(recording, always_2d=True, start=round(example.clip_start * rate), frames=len(clip))
        assert abs(clip - original).max() < 1e-3  # the recording itself, only quantised to 16 bits
        marked = "".join(line.text[lo:hi] for line in example.lines for lo, hi in line.marks)
        assert marked == example.quote
        excerpt = (tmp_path / example.excerpt).read_text(encoding="utf-8")
        assert f"【{example.quote}】" in excerpt
        assert all(line.end > example.clip_start and line.start < example.clip_end for line in example.lines)


def test_a_missing_phrase_marks_the_whole_window(dev_db, tmp_path: Path) -> None:
    for rule_id in ("greeting", "hold_notice"):
        result = _examples(dev_db, tmp_path / rule_id, rule_id=rule_id, limit=3)
        assert result.examples and not result.skipped
        for example in result.examples:
            assert example.missing
            _check_clip(tmp_path / rule_id, example)
            window = [line for line in example.lines if line.marks]
            assert all(line.marks == ((0, len(line.text)),) for line in window)
            assert " ".join(line.text for line in window) == example.quote
            assert all(example.clip_start <= line.start and line.end <= example.clip_end for line in window)
            assert "the whole window" in (tmp_path / rule_id / example.excerpt).read_text(encoding="utf-8")


def test_overturned_findings_never_appear(dev_db_copy, tmp_path: Path) -> None:
    first = _examples(dev_db_copy, tmp_path / "before", rule_id="forbidden_phrase", limit=3)
    overturned = first.examples[0].finding_id
    with dev_db_copy.transaction() as session:
        session.execute(update(FindingRecord).where(FindingRecord.id == overturned).values(status=FindingStatus.OVERTURNED))
        session.execute(update(FindingRecord).where(FindingRecord.id == first.examples[1].finding_id)
                        .values(status=FindingStatus.CONFIRMED))
    after = _examples(dev_db_copy, tmp_path / "after", rule_id="forbidden_phrase", limit=50)
    assert overturned not in {e.finding_id for e in after.examples}
    assert after.examples[0].finding_id == first.examples[1].finding_id and after.examples[0].status == "confirmed"
    assert len(after.examples) == len(_used_findings(dev_db_copy, "forbidden_phrase"))
    with dev_db_copy.transaction() as session:
        session.execute(update(FindingRecord).where(FindingRecord.rule_id == "closing").values(status=FindingStatus.OVERTURNED))
    with pytest.raises(ExamplesError, match="no open or confirmed 'closing' findings"):
        _examples(dev_db_copy, tmp_path / "none", rule_id="closing")


def test_index_csv_and_html_point_at_the_files(dev_db, tmp_path: Path) -> None:
    result = _examples(dev_db, tmp_path, rule_id="closing", limit=4)
    with open(result.index_csv, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames[:6] == ["call_id", "rule_id", "start", "end", "quote", "clip"]
    assert {"agent", "deduction", "status"} <= set(reader.fieldnames)
    assert [(r["call_id"], r["clip"]) for r in rows] == [(e.call_id, e.clip) for e in result.examples]
    assert all((tmp_path / r["clip"]).is_file() and float(r["start"]) <= float(r["end"]) for r in rows)
    page = result.index_html.read_text(encoding="utf-8")
    sources = re.findall(r'<audio controls[^>]* src="([^"]+)"', page)
    assert len(sources) == page.count("<audio") == len(result.examples) == 4
    assert all((tmp_path / src).is_file() for src in sources)
    assert all((tmp_path / href).is_file() for href in re.findall(r'<a href="([^"]+)"', page))
    assert page.count("<mark>") >= 4


def test_limit_agent_and_month_filters(dev_db, tmp_path: Path) -> None:
    assert len(_examples(dev_db, tmp_path / "limit", rule_id="closing", limit=2).examples) == 2
    by_agent = _examples(dev_db, tmp_path / "agent", rule_id="closing", agent="A03", limit=50)
    of_a03 = [f for f, call in _used_findings(dev_db, "closing") if call.agent_id == _agent_pk(dev_db, "A03")]
    assert {e.agent for e in by_agent.examples} == {"A03"} and len(by_agent.examples) == len(of_a03) >= 3
    october = _examples(dev_db, tmp_path / "month", rule_id="closing", month="2026-10", limit=50)
    months = {e.started_at.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m") for e in october.examples}
    assert months == {"2026-10"}
    assert len(october.examples) < len(_used_findings(dev_db, "closing"))


def _agent_pk(database, code: str) -> int:
    with database.session() as session:
        return session.scalar(select(Agent.id).where(Agent.code == code))


def test_unknown_check_agent_and_month_are_refused(dev_db, tmp_path: Path) -> None:
    with pytest.raises(ExamplesError, match=r"unknown check 'greetings' \(known: .*greeting"):
        _examples(dev_db, tmp_path, rule_id="greetings")
    with pytest.raises(ExamplesError, match="no agent 'A99'"):
        _examples(dev_db, tmp_path, rule_id="closing", agent="A99")
    with pytest.raises(QcpipeError, match="month '2026-13' is not YYYY-MM"):
        _examples(dev_db, tmp_path, rule_id="closing", month="2026-13")
    assert not any(tmp_path.iterdir())


def test_a_moved_recording_is_skipped_and_reported(dev_db_copy, tmp_path: Path) -> None:
    first = _examples(dev_db_copy, tmp_path / "before", rule_id="forbidden_phrase", limit=3)
    moved = first.examples[1].call_id
    with dev_db_copy.transaction() as session:
        call = session.scalar(select(Call).where(Call.call_id == moved))
        call.audio_path = str(tmp_path / "gone" / Path(call.audio_path).name)
    after = _examples(dev_db_copy, tmp_path / "after", rule_id="forbidden_phrase", limit=3)
    assert [e.finding_id for e in after.examples] == [e.finding_id for e in first.examples if e.call_id != moved]
    assert [s.finding_id for s in after.skipped] == [e.finding_id for e in first.examples if e.call_id == moved]
    assert "gone" in after.skipped[0].reason and "missing or moved" in after.skipped[0].reason
    assert "missing or moved" in after.index_html.read_text(encoding="utf-8")


def test_excerpts_and_quotes_are_masked(dev_db_copy, tmp_path: Path) -> None:
    first = _examples(dev_db_copy, tmp_path / "before", rule_id="forbidden_phrase", limit=1).examples[0]
    customer_line = next(line for line in first.lines if line.role == "customer")
    with dev_db_copy.transaction() as session:
        segment = session.scalar(select(Segment).join(Call).where(
            Call.call_id == first.call_id, Segment.role == "customer", Segment.start_s == customer_line.start))
        segment.text += "，我电话幺三八一二三四五六七八"  # as a store that keeps the heard text holds it
    example = _examples(dev_db_copy, tmp_path / "after", rule_id="forbidden_phrase", limit=1).examples[0]
    excerpt = (tmp_path / "after" / example.excerpt).read_text(encoding="utf-8")
    assert "我电话＊＊＊＊＊＊＊＊＊＊＊" in excerpt and "幺三八" not in excerpt
    assert "幺三八" not in (tmp_path / "after" / "index.html").read_text(encoding="utf-8")


def test_the_command_writes_the_examples_and_reports_errors(dev_db, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = qcpipe("examples", "--rule", "forbidden_phrase", "--agent", "A07", "--limit", "2", "--out", str(out),
                  "--db", dev_db.url, home=tmp_path)
    assert "wrote 2 example(s)" in done.stdout
    with open(out / "index.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and {r["agent"] for r in rows} == {"A07"}
    refused = qcpipe("examples", "--rule", "nope", "--out", str(tmp_path / "x"), "--db", dev_db.url, home=tmp_path, check=False)
    assert refused.returncode == 1 and "unknown check 'nope'" in refused.stderr


# --- every check, severity, the trainers' marked examples (on the scripted calls of the web's seeded center) ---


def _seeded(database, rulebook) -> None:
    from tests.helpers.web import CALLS, seed_call_rows

    with database.transaction() as session:
        seed_call_rows(session, rulebook, CALLS)


def _ids(database, **where) -> list[int]:
    """The used findings in the examples' order, computed here from the rows."""
    with database.session() as session:
        rows = list(session.execute(select(FindingRecord, Call).join(Call).where(
            FindingRecord.status.in_((FindingStatus.OPEN, FindingStatus.CONFIRMED)),
            *(getattr(FindingRecord, column) == value for column, value in where.items()))))
    rows.sort(key=lambda fc: (-fc[0].deduction, not fc[0].veto, -fc[1].started_at.timestamp(), fc[1].call_id,
                              fc[0].start_s, fc[0].id))
    return [f.id for f, _ in rows]


def test_every_check_and_one_severity(db, rulebook, tmp_path: Path) -> None:
    _seeded(db, rulebook)
    every = _examples(db, tmp_path / "all", limit=50)
    assert [e.finding_id for e in every.examples] == _ids(db) and len({e.rule_id for e in every.examples}) == 3
    assert "all checks: worst examples" in every.index_html.read_text(encoding="utf-8")
    critical = _examples(db, tmp_path / "critical", severity="critical", limit=50)
    assert [e.finding_id for e in critical.examples] == _ids(db, severity="critical")
    assert {e.severity for e in critical.examples} == {"critical"}
    with pytest.raises(ExamplesError, match="unknown severity 'grave'"):
        _examples(db, tmp_path / "bad", severity="grave")


def test_the_marked_examples_and_their_notes(db, rulebook, tmp_path: Path) -> None:
    from qcpipe.store.models import TrainingExample, utcnow

    _seeded(db, rulebook)
    with pytest.raises(ExamplesError, match="no open or confirmed findings, marked for training"):
        _examples(db, tmp_path / "none", marked_only=True)
    greeting, forbidden = _ids(db, rule_id="greeting")[1], _ids(db, rule_id="forbidden_phrase")[0]
    overturned = _ids(db, rule_id="closing")[0]
    with db.transaction() as session:
        for finding_id, note in ((greeting, "开场白缺失"), (forbidden, "<b>推诿</b>"), (overturned, "不该出现")):
            session.add(TrainingExample(finding_id=finding_id, note=note, marked_by="trainer", marked_at=utcnow()))
        session.get(FindingRecord, overturned).status = FindingStatus.OVERTURNED
    result = _examples(db, tmp_path / "marked", marked_only=True, limit=50)
    assert [e.finding_id for e in result.examples] == [i for i in _ids(db) if i in (greeting, forbidden)]
    assert {e.training_note for e in result.examples} == {"开场白缺失", "<b>推诿</b>"}
    with open(result.index_csv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["finding_id"], r["training_note"], r["marked_by"]) for r in rows} == {
        (str(greeting), "开场白缺失", "trainer"), (str(forbidden), "<b>推诿</b>", "trainer")}
    page = result.index_html.read_text(encoding="utf-8")
    assert "&lt;b&gt;推诿&lt;/b&gt;" in page and "<b>推诿" not in page
    excerpt = next(e for e in result.examples if e.finding_id == greeting).excerpt
    assert "training note (trainer): 开场白缺失" in (tmp_path / "marked" / excerpt).read_text(encoding="utf-8")
    only_greeting = _examples(db, tmp_path / "greeting", rule_id="greeting", marked_only=True)
    assert [e.finding_id for e in only_greeting.examples] == [greeting]


def test_excerpt_pieces_cut_the_text_at_the_evidence() -> None:
    from qcpipe.reports.examples import ExcerptLine

    line = ExcerptLine("agent", 0.0, 2.0, 0.0, 2.0, "<i>这不关我的事</i>吧", ((3, 9), (13, 14)))
    assert line.pieces() == (("<i>", False), ("这不关我的事", True), ("</i>", False), ("吧", True))
    assert line.marked("<mark>", "</mark>", escape=True) == "&lt;i&gt;<mark>这不关我的事</mark>&lt;/i&gt;<mark>吧</mark>"
