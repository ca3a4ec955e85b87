"""Reports built from the stored scores.

The team leaders' monthly report: `monthly_report` builds it (`MonthlyReport`, one `MonthlyScore`
an agent, `MonthPoint`s of their trend, `ScoreFlag`s); `to_csv`, `to_xlsx` and `to_html` write it.
"""

from qcpipe.reports.monthly import MonthlyReport, MonthlyScore, MonthPoint, ScoreFlag, monthly_report
from qcpipe.reports.monthly_formats import to_csv, to_xlsx
from qcpipe.reports.monthly_html import to_html

__all__ = ["MonthPoint", "MonthlyReport", "MonthlyScore", "ScoreFlag", "monthly_report", "to_csv", "to_html", "to_xlsx"]
