"""Reports built from the stored scores.

The team leaders' monthly report: `monthly_report` builds it (`MonthlyReport`, one `MonthlyScore`
an agent, `MonthPoint`s of their trend, `ScoreFlag`s); `to_csv`, `to_xlsx` and `to_html` write it.
An agent's scorecard: `scorecard` builds it (`Scorecard`: the month, six months' trend, each check
against the team, appeals, the worst calls); `monthly_scope` says whose reports a person sees.
"""

from qcpipe.reports.monthly import MonthlyReport, MonthlyScore, MonthPoint, ScoreFlag, monthly_report
from qcpipe.reports.monthly_formats import to_csv, to_xlsx
from qcpipe.reports.monthly_html import to_html
from qcpipe.reports.scorecard import AppealLine, CallLine, CheckComparison, Scorecard, scorecard

__all__ = ["MonthPoint", "MonthlyReport", "MonthlyScore", "ScoreFlag", "monthly_report", "to_csv", "to_html", "to_xlsx",
           "AppealLine", "CallLine", "CheckComparison", "Scorecard", "scorecard"]
