"""The monthly report as an Excel workbook: the table, a compliance heatmap, the score trends."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from qcpipe.reports.monthly import MonthlyReport
from qcpipe.reports.monthly_columns import COMPLIANCE_SCALE, FIXED_COLUMNS, center_row, columns, row, trend_floor

_FLAGGED = PatternFill("solid", start_color="FDE2E1")
_BOLD = Font(bold=True)
_HEADER_ROW = 3  # under the title line


def write_workbook(report: MonthlyReport, path: str | Path) -> None:
    book = Workbook()
    _table_sheet(book.active, report)
    _heatmap_sheet(book.create_sheet("Compliance"), report)
    _trend_sheet(book.create_sheet("Trend"), report)
    book.save(path)


def _table_sheet(sheet: Worksheet, report: MonthlyReport) -> None:
    sheet.title = "Report"
    sheet["A1"] = report.headline
    sheet["A1"].font = Font(bold=True, size=13)
    header = columns(report)
    sheet.append([])
    sheet.append(header)
    for cell in sheet[_HEADER_ROW]:
        cell.font = _BOLD
    first_rate = len(FIXED_COLUMNS) + 1  # the compliance columns follow the fixed ones
    for agent in report.agents:
        sheet.append(row(report, agent))
        for cell in sheet[sheet.max_row]:
            if cell.column >= first_rate:
                cell.number_format = "0%"
            if agent.flags:
                cell.fill = _FLAGGED
    last_agent_row = sheet.max_row
    sheet.append(center_row(report))  # below the filtered range: sorting the agents leaves it last
    for cell in sheet[sheet.max_row]:
        cell.font = _BOLD
    sheet.freeze_panes = sheet.cell(_HEADER_ROW + 1, 3)
    sheet.auto_filter.ref = f"A{_HEADER_ROW}:{get_column_letter(len(header))}{max(last_agent_row, _HEADER_ROW)}"
    _widths(sheet, [10, 10, 8, 6, 7, 6, 34, 9, 7, 13] + [12] * len(report.rule_ids))


def _heatmap_sheet(sheet: Worksheet, report: MonthlyReport) -> None:
    """Agent × check compliance, coloured on the fixed COMPLIANCE_SCALE."""
    sheet.append(["agent", *(report.title_of(rule_id) for rule_id in report.rule_ids)])
    sheet.append(["", *report.rule_ids])
    for cell in (*sheet[1], *sheet[2]):
        cell.font = _BOLD
    for agent in report.agents:
        rates = [agent.compliance[rule_id] for rule_id in report.rule_ids]
        sheet.append([agent.label, *("n/a" if rate is None else rate for rate in rates)])
        for cell in sheet[sheet.max_row][1:]:
            cell.number_format = "0%"
    if report.agents and report.rule_ids:
        start, mid, end = COMPLIANCE_SCALE
        cells = f"B3:{get_column_letter(len(report.rule_ids) + 1)}{sheet.max_row}"
        sheet.conditional_formatting.add(
            cells,
            ColorScaleRule(
                start_type="num", start_value=start[0], start_color=start[1],
                mid_type="num", mid_value=mid[0], mid_color=mid[1],
                end_type="num", end_value=end[0], end_color=end[1],
            ),
        )
    sheet.freeze_panes = "B3"
    _widths(sheet, [16] + [14] * len(report.rule_ids))


def _trend_sheet(sheet: Worksheet, report: MonthlyReport) -> None:
    """Month × agent scores (empty where an agent had no calls) and the pass line, charted."""
    months = report.trend_months
    sheet.append(["month", *(agent.label for agent in report.agents), "pass line"])
    for cell in sheet[1]:
        cell.font = _BOLD
    for month in months:
        scores = [{p.month: p.score for p in agent.trend}.get(month) for agent in report.agents]
        sheet.append([month, *scores, report.pass_line])
    _widths(sheet, [9] + [12] * (len(report.agents) + 1))
    if not months:
        return
    chart = LineChart()
    chart.title = f"Monthly QA score, pass line {report.pass_line:g}"
    chart.y_axis.title, chart.x_axis.title = "score", "month"
    chart.y_axis.scaling.min = trend_floor(report)
    chart.y_axis.scaling.max = 100
    # openpyxl ≥ 3.1 writes axes as deleted unless told otherwise: Excel would hide them.
    chart.x_axis.delete = chart.y_axis.delete = False
    last_column = len(report.agents) + 2
    chart.add_data(Reference(sheet, min_col=2, max_col=last_column, min_row=1, max_row=len(months) + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(months) + 1))
    for series in chart.series[:-1]:
        series.marker.symbol = "circle"
        series.smooth = False
    pass_line = chart.series[-1]
    pass_line.graphicalProperties.line.solidFill = "C00000"
    pass_line.graphicalProperties.line.dashStyle = "dash"
    pass_line.smooth = False
    chart.width, chart.height = 24, 12
    sheet.add_chart(chart, f"{get_column_letter(last_column + 2)}2")


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
