"""The columns of the monthly report that the CSV, the workbook and the HTML page share."""

from __future__ import annotations

import math

from qcpipe.reports.monthly import MonthlyReport, MonthlyScore

FIXED_COLUMNS = ("agent_id", "agent_name", "team", "calls", "score", "rank", "flags", "team_rank", "change",
                 "calls_unheard")
# The last line of the CSV and the workbook's table: the whole center's month (not an agent).
CENTER_ID = "(center)"
CENTER_NAME = "全中心 center"

Cell = str | int | float | None

# Compliance colours, fixed so that a colour means the same every month: red at 0, yellow at
# 80 % (a check broken on one call in five needs attention), green at 100 %.
COMPLIANCE_SCALE = ((0.0, "F8696B"), (0.8, "FFEB84"), (1.0, "63BE7B"))


def columns(report: MonthlyReport) -> tuple[str, ...]:
    return FIXED_COLUMNS + tuple(f"compliance.{rule_id}" for rule_id in report.rule_ids)


def row(report: MonthlyReport, agent: MonthlyScore) -> tuple[Cell, ...]:
    """An agent's line, in `columns` order; None where there is no value (no change, check never applied)."""
    return (
        agent.agent_id,
        agent.agent_name,
        agent.team,
        agent.calls,
        agent.score,
        agent.rank_in_center,
        ";".join(agent.flags),
        agent.rank_in_team,
        agent.change,
        agent.calls_unheard,
        *(_rate(agent.compliance[rule_id]) for rule_id in report.rule_ids),
    )


def center_row(report: MonthlyReport) -> tuple[Cell, ...]:
    """The center's line, in `columns` order: its calls, mean score and calls with unheard agent
    speech, over the whole center (as the headline) even when the report lists one team."""
    return (
        CENTER_ID, CENTER_NAME, None, report.center_calls, report.center_mean, None, None, None, None,
        report.center_calls_unheard, *(None for _ in report.rule_ids),
    )


def trend_floor(report: MonthlyReport) -> float:
    """The bottom of a trend chart's score axis: a round ten below the lowest score and the pass line."""
    lowest = min([report.pass_line, *(p.score for agent in report.agents for p in agent.trend)])
    return max(0.0, math.floor(lowest / 10) * 10 - 10.0)


def _rate(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)
