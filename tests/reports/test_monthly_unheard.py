"""The monthly report and what ASR could not hear: per agent, the calls with agent speech that
could not be transcribed (and the center's total), in every writer; uncertain findings are no
deduction and break no check. On each backend.

    agent  October calls (Shanghai)                                         unheard agent speech
    B1     95 (greeting uncertain), 90 (closing open), 100                 2 calls (one with two spans)
    B2     100, 85 (customer speech unheard only), failed call with spans   0
    B3     100 (unheard agent speech, scored 30 September: not October)     0
"""

from __future__ import annotations

import csv

import pytest
from openpyxl import load_workbook

from qcpipe.reports import monthly_report, to_csv, to_html, to_xlsx
from qcpipe.reports.monthly_html import render_html
from qcpipe.store import Agent, CallStatus, FindingStatus, Team
from qcpipe.store.models import UnheardSpan
from tests.helpers.cli import qcpipe_in_process
from tests.helpers.rows import RULES, call, finding


def unheard(role: str, start: float, end: float) -> UnheardSpan:
    return UnheardSpan(channel=0 if role == "agent" else 1, role=role, start_s=start, end_s=end)


@pytest.fixture
def center(db):
    with db.transaction() as session:
        team = Team(name="一组")
        b1, b2, b3 = (Agent(code=code, name=name, team=team) for code, name in (("B1", "王磊"), ("B2", "李静"), ("B3", "陈晨")))
        c1 = call(b1, "2026-10-05", 100, findings=(finding("greeting", FindingStatus.UNCERTAIN),))
        c1.findings[0].doubt = "the window was heard with low confidence (mean word probability 0.42)"
        c1.unheard = [unheard("agent", 0.5, 3.0)]
        c2 = call(b1, "2026-10-06", 90, findings=(finding("closing"),))
        c2.unheard = [unheard("agent", 12.3, 25.0), unheard("agent", 40.0, 41.0), unheard("customer", 5.0, 6.0)]
        c3 = call(b1, "2026-10-07", 100)
        c4 = call(b2, "2026-10-05", 100)
        c5 = call(b2, "2026-10-06", 85)
        c5.unheard = [unheard("customer", 1.0, 2.0)]
        c6 = call(b2, "2026-10-07", None, status=CallStatus.FAILED)
        c6.unheard = [unheard("agent", 1.0, 2.0)]
        c7 = call(b3, "2026-09-30", 100)
        c7.unheard = [unheard("agent", 1.0, 2.0)]
        c8 = call(b3, "2026-10-08", 100)
        session.add_all([c1, c2, c3, c4, c5, c6, c7, c8])
    return db


@pytest.fixture
def october(center):
    with center.session() as session:
        return monthly_report(session, "2026-10", pass_line=80, timezone="Asia/Shanghai", rule_ids=RULES)


def by_id(report):
    return {agent.agent_id: agent for agent in report.agents}


def test_calls_with_unheard_agent_speech_per_agent_and_center(october) -> None:
    agents = by_id(october)
    assert {a: (s.calls, s.calls_unheard) for a, s in agents.items()} == {"B1": (3, 2), "B2": (2, 0), "B3": (1, 0)}
    assert (october.center_calls, october.center_calls_unheard) == (6, 2)
    assert october.unheard_share == pytest.approx(2 / 6)
    assert "2 with unheard agent speech" in october.headline


def test_an_uncertain_finding_is_no_deduction_and_breaks_no_check(october) -> None:
    b1 = by_id(october)["B1"]
    assert b1.score == pytest.approx(96.7)  # (100 + 90 + 100) / 3: the uncertain greeting deducted nothing
    assert b1.compliance["greeting"] == 1.0  # kept on every call: the uncertain finding is not a break
    assert b1.compliance["closing"] == pytest.approx(2 / 3)  # the open finding is


@pytest.mark.parametrize("backend", ["sqlite"])  # the files are written from the report alone
def test_every_writer_has_the_column_and_the_center_total(october, tmp_path) -> None:
    to_csv(october, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["agent_id"], r["calls_unheard"]) for r in rows] == [("B3", "0"), ("B1", "2"), ("B2", "0"), ("(center)", "2")]
    assert rows[-1]["calls"] == "6"

    to_xlsx(october, tmp_path / "r.xlsx")
    sheet = load_workbook(tmp_path / "r.xlsx")["Report"]
    header = [c.value for c in sheet[3]]
    column = header.index("calls_unheard")
    table = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
    assert [(row[0], row[column]) for row in table] == [("B3", 0), ("B1", 2), ("B2", 0), ("(center)", 2)]
    assert sheet.auto_filter.ref.endswith("6")  # the agents' rows only: sorting leaves the center's last

    page = render_html(october)
    assert "<th>Calls unheard</th>" in page and 'id="unheard"' in page
    assert "calls with unheard agent speech: <b>2</b> of 6 (33%)" in page
    assert '<tr class="total"><td></td><td>全中心 center</td><td></td><td class="num">6</td>' in page
    to_html(october, tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == page


def test_the_console_table_has_the_column_and_the_center_total(center, tmp_path) -> None:
    printed = qcpipe_in_process("report", "monthly", "--month", "2026-10", "--db", center.url, home=tmp_path)
    words = " ".join(printed.stdout.split())  # the title wraps at the table's width
    assert "calls unheard" in printed.stdout and "6 calls, 2 with unheard agent speech" in words
    center_line = next(line for line in printed.stdout.splitlines() if "全中心" in line)
    assert center_line.split("│")[5].strip() == "6" and center_line.split("│")[-2].strip() == "2"
