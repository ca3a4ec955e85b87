"""The worklist's page is read in index order, not by sorting every matching call.

At 100,000 calls (scripts/bench_web.py) sorting the month for each page view was what made the
worklist slow; ix_calls_worklist (migration 0006) holds the worklist's order. PostgreSQL's plans
depend on its statistics, so the plan is checked on SQLite, whose planner uses the index on any
database; the migrations test checks that the index exists on both backends.
"""

from __future__ import annotations

from sqlalchemy import event

from qcpipe.accounts.roles import Viewer
from qcpipe.review.worklist import WorklistFilters, worklist
from qcpipe.store.models import UserRole

MONITOR = Viewer("m1", UserRole.MONITOR)


def _page_query_plan(database, filters: WorklistFilters) -> list[str]:  # type: ignore[no-untyped-def]
    statements: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.session() as session:
            worklist(session, MONITOR, filters, timezone="Asia/Shanghai", page=2)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    [(statement, parameters)] = [(s, p) for s, p in statements if "ORDER BY" in s]
    with database.engine.connect() as connection:
        return [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]


def test_the_open_calls_are_paged_from_the_index_without_a_sort(sqlite_db) -> None:
    plan = _page_query_plan(sqlite_db, WorklistFilters())
    assert any("ix_calls_worklist" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
    # "has open findings" is answered from the findings' index, not their rows
    assert any("COVERING INDEX ix_findings_call_status_rule" in step for step in plan), plan


def test_a_filtered_list_is_paged_without_a_sort_too(sqlite_db) -> None:
    plan = _page_query_plan(sqlite_db, WorklistFilters(team="一组", rule="greeting"))
    assert not any("TEMP B-TREE" in step for step in plan), plan
