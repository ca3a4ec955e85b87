"""What-if: a draft rulebook over the seeded center's stored calls (tests.helpers.web: C01–C06),
compared with what is stored, and nothing written. On each database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from qcpipe.periods import Period, days_period, month_period
from qcpipe.pipeline.whatif import preview
from qcpipe.reports.monthly import ScoreFlag
from qcpipe.scoring import DEFAULT_RULEBOOK, RulebookError
from qcpipe.scoring.records import update_call_score
from qcpipe.store import Call, Database
from qcpipe.store.models import FindingRecord, FindingStatus
from tests.helpers.web import CALLS, finding_of, seed_call_rows, stored_call

ZONE = "Asia/Shanghai"
DEFAULT_YAML = DEFAULT_RULEBOOK.read_text(encoding="utf-8")
GREETING_AT_5 = "    deduction: 5\n    role: agent\n    # The first agent turn"
FORBIDDEN_PHRASES = "      # --- 推诿: pushing the caller away"
EVERYTHING = Period()
OCTOBER = days_period(ZONE, since=date(2026, 10, 1), until=date(2026, 10, 31))


def greeting_costs(points: int) -> str:
    assert DEFAULT_YAML.count(GREETING_AT_5) == 1
    return DEFAULT_YAML.replace(GREETING_AT_5, GREETING_AT_5.replace("5", str(points), 1))


def with_forbidden(phrase: str) -> str:
    assert DEFAULT_YAML.count(FORBIDDEN_PHRASES) == 1
    return DEFAULT_YAML.replace(FORBIDDEN_PHRASES, f"      - phrase: {phrase}\n{FORBIDDEN_PHRASES}")


@pytest.fixture
def center(db: Database, rulebook) -> Database:
    with db.transaction() as session:
        seed_call_rows(session, rulebook, CALLS)
    return db


def snapshot(database: Database) -> tuple:
    """Everything a preview must leave as it was: scores, findings and their decisions."""
    with database.session() as session:
        scores = dict(session.execute(select(Call.call_id, Call.qa_score)).all())
        findings = session.execute(select(FindingRecord.id, FindingRecord.rule_id, FindingRecord.status,
                                          FindingRecord.deduction, FindingRecord.version)
                                   .order_by(FindingRecord.id)).all()
        return scores, [tuple(row) for row in findings], session.scalar(select(func.count()).select_from(Call))


def test_the_stored_rulebook_changes_nothing(center) -> None:
    result = preview(center, DEFAULT_YAML, EVERYTHING, pass_line=80)
    assert (result.calls_scored, result.calls_changed, result.findings_added, result.findings_removed) == (6, 0, 0, 0)
    assert result.agents_changed == ()


def test_a_dearer_greeting_changes_the_scores_of_the_calls_with_a_greeting_finding_only(center) -> None:
    before = snapshot(center)
    result = preview(center, greeting_costs(8), EVERYTHING, pass_line=80)
    # C01, C02, C04 and C06 miss the greeting (tests.helpers.web): each loses 3 more points.
    assert {c.call_id: (c.before, c.after) for c in result.calls} == {
        "C01": (75, 72), "C02": (90, 87), "C04": (95, 92), "C06": (70, 67)}
    assert (result.findings_added, result.findings_removed, result.per_check) == (0, 0, {})
    # A03 (C01, C03, C05: 75, 100, 80) → 84.0 from 85.0; A07 (C02, C04, C06: 90, 95, 70) → 82.0 from 85.0.
    assert {(a.agent_id, a.score_before, a.score_after) for a in result.agents_changed} == {
        ("A03", 85.0, 84.0), ("A07", 85.0, 82.0)}
    assert snapshot(center) == before


def test_a_new_phrase_adds_findings_only_where_it_is_said(center) -> None:
    before = snapshot(center)
    result = preview(center, with_forbidden("上门检修"), EVERYTHING, pass_line=80)
    # 师傅明天上午上门检修 is the answer of C01–C04; C05 and C06 say 师傅明天上门.
    assert result.findings_removed == 0
    assert result.per_check["forbidden_phrase"].added == result.findings_added == 4
    examples = result.per_check["forbidden_phrase"].added_examples
    assert len(examples) == 3 and all("上门检修" in e.quote and e.phrase == "上门检修" for e in examples)
    assert {c.call_id for c in result.calls} == {"C01", "C02", "C03", "C04"}
    assert {c.call_id: c.after for c in result.calls}["C03"] == 80  # 100 − 20
    assert snapshot(center) == before


def test_the_period_bounds_the_calls(center) -> None:
    early_october = days_period(ZONE, since=date(2026, 10, 1), until=date(2026, 10, 10))
    result = preview(center, greeting_costs(8), early_october, pass_line=80)
    assert result.calls_scored == 3  # C01, C02, C03: C04 is September's, C05 and C06 later
    assert {c.call_id for c in result.calls} == {"C01", "C02"}
    assert preview(center, greeting_costs(8), OCTOBER, pass_line=80).calls_scored == 5


def test_an_overturned_finding_stays_not_deducting_and_a_confirmed_one_stays(center) -> None:
    with center.transaction() as session:
        finding_of(session, "C01", "greeting").status = FindingStatus.OVERTURNED
        finding_of(session, "C02", "greeting").status = FindingStatus.CONFIRMED
        update_call_score(stored_call(session, "C01"))  # 80: the greeting no longer deducts
    result = preview(center, greeting_costs(8), EVERYTHING, pass_line=80)
    changes = {c.call_id: (c.before, c.after) for c in result.calls}
    assert "C01" not in changes  # the same finding, still overturned: the dearer greeting costs nothing
    assert changes["C02"] == (90, 87)
    assert (result.findings_added, result.findings_removed) == (0, 0)
    with center.session() as session:
        assert finding_of(session, "C01", "greeting").status == FindingStatus.OVERTURNED


def test_a_check_taken_out_removes_its_findings_with_their_quotes(center) -> None:
    start = DEFAULT_YAML.index("  - id: greeting\n")
    end = DEFAULT_YAML.index("  - id: closing\n")
    result = preview(center, DEFAULT_YAML[:start] + DEFAULT_YAML[end:], EVERYTHING, pass_line=80)
    assert result.per_check["greeting"].removed == result.findings_removed == 4
    assert result.findings_added == 0
    assert {e.call_id for e in result.per_check["greeting"].removed_examples} <= {"C01", "C02", "C04", "C06"}
    assert {c.call_id: c.after for c in result.calls} == {"C01": 80, "C02": 95, "C04": 100, "C06": 75}
    a07 = next(a for a in result.agents_changed if a.agent_id == "A07")
    assert (a07.score_before, a07.score_after) == (85.0, 90.0)


def test_progress_counts_up_to_the_calls_of_the_period(center) -> None:
    seen: list[tuple[int, int]] = []
    preview(center, greeting_costs(8), OCTOBER, pass_line=80, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)


def test_a_malformed_draft_names_its_line(center) -> None:
    broken = greeting_costs(8).replace("    deduction: 8\n", "    deduction: [8\n", 1)
    with pytest.raises(RulebookError) as error:
        preview(center, broken, EVERYTHING, pass_line=80)
    assert error.value.line is not None and "draft, line" in str(error.value)


def test_worker_processes_give_the_same_answer(center, monkeypatch) -> None:
    import qcpipe.pipeline.whatif as whatif

    monkeypatch.setattr(whatif, "POOL_FROM", 0)
    monkeypatch.setattr(whatif, "CHUNK", 2)
    if center.url.endswith(":memory:"):
        pytest.skip("an in-memory database cannot be shared")
    alone = preview(center, with_forbidden("上门检修"), EVERYTHING, pass_line=80, workers=1)
    shared = preview(center, with_forbidden("上门检修"), EVERYTHING, pass_line=80, workers=2)
    assert shared.workers == 2
    assert shared.as_json() | {"wall_s": 0} == alone.as_json() | {"wall_s": 0}


@pytest.mark.parametrize("draft", [greeting_costs(8), with_forbidden("上门检修"), with_forbidden("欢迎致电"),
                                   DEFAULT_YAML.replace("seconds: 15, turns: 1}", "seconds: 3, turns: 1}", 1)])
def test_running_only_the_changed_checks_gives_what_running_them_all_gives(center, draft) -> None:
    with center.transaction() as session:
        finding_of(session, "C06", "closing").status = FindingStatus.OVERTURNED
        update_call_score(stored_call(session, "C06"))
    only_changed = preview(center, draft, EVERYTHING, pass_line=80)
    every_check = preview(center, draft, EVERYTHING, pass_line=80, reuse_unchanged=False)
    assert only_changed.as_json() | {"wall_s": 0} == every_check.as_json() | {"wall_s": 0}


def test_only_the_checks_the_draft_changes_are_run_on_calls_scored_with_a_known_rulebook(center, monkeypatch) -> None:
    import qcpipe.pipeline.whatif as whatif

    run: list[tuple[str, ...]] = []
    score_call = whatif.score_call
    monkeypatch.setattr(whatif, "score_call", lambda call, rulebook: run.append(rulebook.rule_ids)
                        or score_call(call, rulebook))
    preview(center, with_forbidden("上门检修"), EVERYTHING, pass_line=80)
    assert run == [("forbidden_phrase",)] * 6  # the seeded calls were scored with the shipped default
    run.clear()
    preview(center, with_forbidden("上门检修"), EVERYTHING, pass_line=80, reuse_unchanged=False)
    assert len(run) == 6 and all({"greeting", "closing", "forbidden_phrase"} <= set(ids) for ids in run)


def test_a_calendar_month_sets_failing_three_months_from_the_two_months_stored_before_it(center, rulebook) -> None:
    # A03 scored under the pass line in August and September (the 禁语 and no greeting: 75).
    with center.transaction() as session:
        seed_call_rows(session, rulebook, {"H08": ("A03", "2026-08-12", CALLS["C01"][2]),
                                           "H09": ("A03", "2026-09-12", CALLS["C01"][2])})
    draft = greeting_costs(30)  # C01 75 → 50: A03's October 85.0 → 76.7, under the pass line again
    result = preview(center, draft, month_period("2026-10", ZONE), pass_line=80)
    a03 = next(a for a in result.agents_changed if a.agent_id == "A03")
    assert (a03.score_before, a03.score_after) == (85.0, 76.7)
    assert ScoreFlag.FAILING_3_MONTHS not in a03.flags_before
    assert set(a03.flags_after) == {ScoreFlag.BELOW_PASS_LINE, ScoreFlag.FAILING_3_MONTHS}
    a07 = next(a for a in result.agents_changed if a.agent_id == "A07")  # 95 in September: no streak
    assert ScoreFlag.BELOW_PASS_LINE in a07.flags_after and ScoreFlag.FAILING_3_MONTHS not in a07.flags_after
    # The flag is a calendar month's: a period of other days leaves it out.
    thirty_days = preview(center, draft, days_period(ZONE, since=date(2026, 10, 1), until=date(2026, 10, 30)),
                          pass_line=80)
    assert all(ScoreFlag.FAILING_3_MONTHS not in a.flags_after for a in thirty_days.agents_changed)


@pytest.mark.parametrize(("period", "month"), [
    (month_period("2026-10", ZONE), "2026-10"),
    (month_period("2026-12", ZONE), "2026-12"),
    (OCTOBER, "2026-10"),  # the 1st to the 31st, both days in: the month
    (days_period(ZONE, since=date(2026, 10, 1), until=date(2026, 10, 30)), None),
    (days_period(ZONE, since=date(2026, 10, 2), until=date(2026, 11, 1)), None),
    (EVERYTHING, None),
])
def test_which_periods_are_a_calendar_month(period, month) -> None:
    assert period.calendar_month() == month
