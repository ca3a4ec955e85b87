"""The trainers' library (培训案例库) over HTTP, on the seeded center (tests/helpers/web.py): the
findings worst first with their filters, never an overturned one, marking and unmarking with
audit events, the clip of a finding, and the pack: the same files `qcpipe examples` writes."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
import soundfile
from sqlalchemy import select

from qcpipe.accounts import Viewer
from qcpipe.review import review_as
from qcpipe.store import Agent, Call, FindingRecord, FindingStatus
from qcpipe.store.models import AuditEvent, TrainingExample, UserRole, utcnow
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.web import RECORDING, SCRIPT, finding_of

USED = (FindingStatus.OPEN, FindingStatus.CONFIRMED)


def listed(html: str) -> list[int]:
    """The finding ids of a library page, in order."""
    return [int(f) for f in re.findall(r'<article class="lib-entry[^"]*" id="finding-\d+" data-finding-id="(\d+)"', html)]


def rules_of(html: str) -> set[str]:
    return set(re.findall(r'<article class="lib-entry[^"]*" id="finding-\d+" data-finding-id="\d+" data-rule-id="([^"]+)"', html))


def worst_first(center, **where) -> list[int]:
    """The used findings of the seeded center in the library's order, computed here from the rows:
    deduction, veto, newest call, call id, start, id."""
    with center.session() as session:
        rows = session.execute(select(FindingRecord, Call).join(Call).where(FindingRecord.status.in_(USED)))
        found = [(f, c) for f, c in rows if all(_matches(f, c, session, key, value) for key, value in where.items())]
    found.sort(key=lambda fc: (-fc[0].deduction, not fc[0].veto, -fc[1].started_at.timestamp(), fc[1].call_id,
                               fc[0].start_s, fc[0].id))
    return [f.id for f, _ in found]


def _matches(finding: FindingRecord, call: Call, session, key: str, value: str) -> bool:
    if key == "rule":
        return finding.rule_id == value
    if key == "severity":
        return finding.severity == value
    if key == "agent":
        return session.get(Agent, call.agent_id).code == value
    raise KeyError(key)


def events(center, action: str) -> list[AuditEvent]:
    with center.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def overturn(center, call_id: str, rule_id: str) -> int:
    with center.transaction() as session:
        finding = finding_of(session, call_id, rule_id)
        review_as(session, Viewer("monitor1", UserRole.MONITOR), finding.id, confirm=False, comment="听过录音，没说",
                  now=utcnow())
        return finding.id


def test_the_trainer_lists_every_used_finding_worst_first_with_marked_excerpts(browser, center) -> None:
    trainer = browser("trainer")
    page = trainer.get("/library")
    assert page.status_code == 200
    assert listed(page.text) == worst_first(center) and len(listed(page.text)) == 9
    c01 = page.text[page.text.index(f'data-finding-id="{_id(center, "C01", "forbidden_phrase")}"'):]
    c01 = c01[: c01.index("</article>")]
    assert "<mark>这不关我的事</mark>" in c01  # the evidence, and only it, marked
    assert '<audio class="clip" controls preload="none" src="/library/findings/' in c01
    assert '<a href="/calls/C01">C01</a>' in c01 and "A03" in c01


def _id(center, call_id: str, rule_id: str) -> int:
    with center.session() as session:
        return finding_of(session, call_id, rule_id).id


def test_filters_by_check_agent_month_and_severity(browser, center) -> None:
    trainer = browser("trainer")
    greeting = trainer.get("/library?rule=greeting")
    assert listed(greeting.text) == worst_first(center, rule="greeting") and rules_of(greeting.text) == {"greeting"}
    a07 = trainer.get("/library?agent=A07")
    assert listed(a07.text) == worst_first(center, agent="A07") and len(listed(a07.text)) == 6
    september = trainer.get("/library?month=2026-09")
    assert listed(september.text) == [_id(center, "C04", "greeting")]
    severities = {f.severity for f in _all(center)}
    assert len(severities) >= 2
    for severity in severities:
        assert listed(trainer.get(f"/library?severity={severity}").text) == worst_first(center, severity=severity)
    both = trainer.get("/library?rule=forbidden_phrase&agent=A03")
    assert listed(both.text) == worst_first(center, rule="forbidden_phrase", agent="A03") and len(listed(both.text)) == 2
    refused = trainer.get("/library?rule=greetings")
    assert refused.status_code == 400 and "unknown check &#39;greetings&#39;" in refused.text


def _all(center) -> list[FindingRecord]:
    with center.session() as session:
        return list(session.scalars(select(FindingRecord).where(FindingRecord.status.in_(USED))))


def test_pages_of_the_library(browser, center, monkeypatch) -> None:
    from qcpipe.web import library

    monkeypatch.setattr(library, "PAGE_SIZE", 4)
    trainer = browser("trainer")
    pages = [listed(trainer.get(f"/library?page={n}").text) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [4, 4, 1] and sum(pages, []) == worst_first(center)
    second = trainer.get("/library?agent=A07&page=2").text
    assert listed(second) == worst_first(center, agent="A07")[4:] and "第 2 / 2 页" in second
    assert 'href="/library?agent=A07&amp;page=1">← 上一页' in second
    assert listed(trainer.get("/library?page=9").text) == pages[2]  # past the end: the last page


def test_an_overturned_finding_never_appears(browser, center) -> None:
    overturned = overturn(center, "C01", "forbidden_phrase")
    trainer = browser("trainer")
    assert overturned not in listed(trainer.get("/library").text)
    assert overturned not in listed(trainer.get("/library?rule=forbidden_phrase&agent=A03").text)
    assert trainer.get(f"/library/findings/{overturned}/clip").status_code == 404
    assert trainer.form(f"/library/findings/{overturned}/mark", {"note": "反面教材"}).status_code == 404
    with center.session() as session:
        assert session.scalar(select(TrainingExample)) is None
    missing = trainer.get("/library/findings/999999/clip")
    assert missing.status_code == 404 and "999999" in missing.text


def test_a_marked_example_loses_its_place_when_overturned(browser, center) -> None:
    trainer = browser("trainer")
    finding_id = _id(center, "C05", "forbidden_phrase")
    assert trainer.form(f"/library/findings/{finding_id}/mark", {"note": "典型禁语"}).status_code == 303
    assert listed(trainer.get("/library?marked=1").text) == [finding_id]
    overturn(center, "C05", "forbidden_phrase")
    assert listed(trainer.get("/library?marked=1").text) == []


def test_mark_and_unmark_with_audit_events(browser, center) -> None:
    trainer = browser("trainer")
    finding_id = _id(center, "C06", "forbidden_phrase")
    marked = trainer.form(f"/library/findings/{finding_id}/mark",
                          {"note": f"推诿：{SCRIPT}", "back": "rule=forbidden_phrase&page=1&evil=//x"})
    assert marked.status_code == 303
    assert marked.headers["location"] == f"/library?rule=forbidden_phrase&page=1#finding-{finding_id}"
    with center.session() as session:
        example = session.scalars(select(TrainingExample)).one()
        assert (example.finding_id, example.note, example.marked_by) == (finding_id, f"推诿：{SCRIPT}", "trainer")
    [event] = events(center, "training.mark")
    assert (event.actor, event.object_type, event.object_id) == ("trainer", "finding", str(finding_id))
    assert "推诿" in event.detail and "C06" in event.detail

    page = trainer.get("/library?marked=1")
    assert listed(page.text) == [finding_id]
    assert "★ trainer 标记于" in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert SCRIPT not in page.text

    lead = browser("lead")  # marking again changes the note and who marked it
    assert lead.form(f"/library/findings/{finding_id}/mark", {"note": "更新"}).status_code == 303
    with center.session() as session:
        assert session.scalars(select(TrainingExample.marked_by)).one() == "lead"
    assert len(events(center, "training.mark")) == 2

    assert trainer.form(f"/library/findings/{finding_id}/unmark").status_code == 303
    with center.session() as session:
        assert session.scalar(select(TrainingExample)) is None
    [event] = events(center, "training.unmark")
    assert event.actor == "trainer" and event.object_id == str(finding_id) and "更新" in event.detail
    assert listed(trainer.get("/library?marked=1").text) == []
    assert trainer.form(f"/library/findings/{finding_id}/unmark").status_code == 303  # already: nothing to record
    assert len(events(center, "training.unmark")) == 1


def test_marking_without_the_csrf_token_is_refused(browser, center) -> None:
    trainer = browser("trainer")
    finding_id = _id(center, "C01", "greeting")
    refused = trainer.client.post(f"/library/findings/{finding_id}/mark", data={"note": "x"})
    assert refused.status_code == 403
    wrong = trainer.client.post(f"/library/findings/{finding_id}/mark", data={"note": "x", "csrf_token": "forged"})
    assert wrong.status_code == 403
    assert trainer.client.post("/library/pack", data={"rule": "greeting"}).status_code == 403
    with center.session() as session:
        assert session.scalar(select(TrainingExample)) is None
    assert events(center, "training.mark") == []


def test_the_clip_is_the_evidence_with_context_in_both_channels(browser, center) -> None:
    trainer = browser("trainer")
    with center.session() as session:
        finding = finding_of(session, "C01", "forbidden_phrase")
        start, end = finding.start_s, finding.end_s
        finding_id = finding.id
    answer = trainer.get(f"/library/findings/{finding_id}/clip")
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"
    clip, rate = soundfile.read(io.BytesIO(answer.content), always_2d=True)
    recording = soundfile.info(str(RECORDING))
    assert clip.shape[1] == 2 and rate == recording.samplerate
    expected = min(end + 3.0, recording.duration) - max(0.0, start - 3.0)
    assert len(clip) / rate == pytest.approx(expected, abs=0.01)
    original, _ = soundfile.read(str(RECORDING), always_2d=True, start=round(max(0.0, start - 3.0) * rate),
                                 frames=len(clip))
    assert abs(clip - original).max() < 1e-3  # the recording itself, both channels


def test_a_clip_of_a_moved_recording_is_not_found(browser, center, tmp_path: Path) -> None:
    with center.transaction() as session:
        call = session.scalars(select(Call).where(Call.call_id == "C02")).one()
        call.audio_path = str(tmp_path / "gone.wav")
        finding_id = next(f.id for f in call.findings)
    answer = browser("trainer").get(f"/library/findings/{finding_id}/clip")
    assert answer.status_code == 404 and "missing or moved" in answer.text


def _pack(answer) -> zipfile.ZipFile:
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == "application/zip"
    assert re.match(r'attachment; filename="training-pack-[\w.-]+\.zip"', answer.headers["content-disposition"])
    return zipfile.ZipFile(io.BytesIO(answer.content))


def _cli_index(center, tmp_path: Path, *args: str) -> str:
    out = tmp_path / "cli"
    done = qcpipe_in_process("examples", *args, "--out", str(out), "--db", center.url, home=tmp_path / "home")
    assert "wrote" in done.stdout
    return (out / "index.csv").read_bytes().decode("utf-8")


def test_the_pack_is_what_the_command_writes(browser, center, tmp_path: Path) -> None:
    trainer = browser("trainer")
    answer = trainer.form("/library/pack", {"rule": "forbidden_phrase", "agent": "A03", "month": "2026-10", "limit": "5"})
    pack = _pack(answer)
    names = set(pack.namelist())
    assert {"index.csv", "index.html"} <= names
    index = pack.read("index.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(index)))
    assert [int(r["finding_id"]) for r in rows] == worst_first(center, rule="forbidden_phrase", agent="A03")
    for row in rows:
        assert row["clip"] in names and row["excerpt"] in names
        info = soundfile.info(io.BytesIO(pack.read(row["clip"])))
        assert info.channels == 2 and info.duration > 0
    assert pack.read("index.html").decode("utf-8").count("<audio") == len(rows)
    # The same query through the command: the same index, row for row.
    assert index == _cli_index(center, tmp_path, "--rule", "forbidden_phrase", "--agent", "A03", "--month", "2026-10",
                               "--limit", "5")
    [event] = events(center, "training.pack")
    assert event.actor == "trainer" and "2 examples" in event.detail


def test_a_pack_of_the_marked_examples_carries_their_notes(browser, center, tmp_path: Path) -> None:
    trainer = browser("trainer")
    marked = [_id(center, "C02", "closing"), _id(center, "C01", "forbidden_phrase")]
    for finding_id, note in zip(marked, ("结束语缺失", "禁语示范")):
        assert trainer.form(f"/library/findings/{finding_id}/mark", {"note": note}).status_code == 303
    pack = _pack(trainer.form("/library/pack", {"which": "marked", "rule": "greeting", "limit": "20"}))
    index = pack.read("index.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(index)))
    assert [int(r["finding_id"]) for r in rows] == [m for m in worst_first(center) if m in marked]
    assert {r["training_note"] for r in rows} == {"结束语缺失", "禁语示范"} and {r["marked_by"] for r in rows} == {"trainer"}
    assert "禁语示范" in pack.read("index.html").decode("utf-8")
    assert index == _cli_index(center, tmp_path, "--marked", "--limit", "20")


def test_a_pack_of_nothing_is_refused_plainly(browser, center) -> None:
    answer = browser("trainer").form("/library/pack", {"which": "marked"})
    assert answer.status_code == 400 and "no open or confirmed findings" in answer.text
