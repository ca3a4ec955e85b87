"""The monthly report as files: CSV, and the XLSX workbook (openpyxl loaded only when asked for).

CSV is written UTF-8 with a byte-order mark: Excel, where team leaders open it, reads a CSV
without one in the system code page and garbles the agents' Chinese names.
"""

from __future__ import annotations

import csv
from pathlib import Path

from qcpipe.reports.monthly import MonthlyReport
from qcpipe.reports.monthly_columns import center_row, columns, row


def to_csv(report: MonthlyReport, path: str | Path) -> None:
    """One row per agent: compliance as a fraction (0.6667), empty where there is no value; then
    the center's row (agent_id `(center)`: its calls, mean score and calls with unheard agent speech)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns(report))
        for agent in report.agents:
            writer.writerow("" if value is None else value for value in row(report, agent))
        writer.writerow("" if value is None else value for value in center_row(report))


def to_xlsx(report: MonthlyReport, path: str | Path) -> None:
    """A workbook: the table, a compliance heatmap, and each agent's score trend as a line chart."""
    # openpyxl takes a fifth of a second to import: only pay for it when a workbook is asked for.
    from qcpipe.reports.monthly_xlsx import write_workbook

    write_workbook(report, path)
