"""`qcpipe report`: reports for team leaders, from the stored scores."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qcpipe.cli.common import DbOption, open_store, rulebook_in_force, settings_of, stderr, stdout, table
from qcpipe.cli.scoring import RulesOption
from qcpipe.errors import QcpipeError, UsageError
from qcpipe.reports import MonthlyReport, monthly_report, to_csv, to_html, to_xlsx

app = typer.Typer(help="Reports for team leaders.", no_args_is_help=True)


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


_WRITERS = {ReportFormat.CSV: to_csv, ReportFormat.XLSX: to_xlsx, ReportFormat.HTML: to_html}


@app.command("monthly")
def monthly_command(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, in the center's time zone.")],
    team: Annotated[str | None, typer.Option("--team", help="List only this team's agents (ranks stay center-wide).")] = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="table prints; csv, xlsx and html need -o.")] = ReportFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Each agent's monthly QA score (mean of the month's call scores) with call count, compliance
    of each check, rank in team and center, change since last month, and flags: below the pass
    line, bottom 10 % of the center, failing three months in a row."""
    if format != ReportFormat.TABLE and output is None:
        raise UsageError(f"--format {format} writes a file: give it with -o FILE")
    settings = settings_of(ctx, db_url=db, rules=rules)
    rulebook = rulebook_in_force(settings, rules)
    with open_store(settings) as store, store.session() as session:
        report = monthly_report(
            session, month, team=team, pass_line=settings.pass_line, timezone=settings.timezone,
            rule_ids=rulebook.scored_rule_ids, rule_titles=rulebook.titles,
        )
    if not report.agents:
        raise QcpipeError(f"no scored calls in {report.month}{f' for team {team}' if team else ''}")
    if format == ReportFormat.TABLE:
        _print_table(report)
        return
    assert output is not None
    try:
        _WRITERS[format](report, output)
    except OSError as exc:
        raise QcpipeError(f"cannot write {output}: {exc.strerror or exc}") from None
    stderr.print(f"wrote the {report.month} report ({len(report.agents)} agents) to {output}", highlight=False)


def _print_table(report: MonthlyReport) -> None:
    rows = table("rank", "agent", "name", "team", "calls", "score", "change", "team rank", "flags", "weakest checks",
                 "calls unheard", title=report.headline)
    for agent in report.agents:
        weakest = ", ".join(f"{rule_id} {rate:.0%}" for rule_id, rate in agent.weakest_checks())
        # Text cells, not markup: a name from the CTI system may hold "[" and "]".
        rows.add_row(
            Text(str(agent.rank_in_center)), Text(agent.agent_id), Text(agent.agent_name or ""), Text(agent.team or ""),
            Text(str(agent.calls)), Text(f"{agent.score:.1f}", style="red" if agent.score < report.pass_line else ""),
            Text("—" if agent.change is None else f"{agent.change:+.1f}"), Text(str(agent.rank_in_team)),
            Text(", ".join(flag.label for flag in agent.flags), style="bold red"), Text(weakest),
            Text(str(agent.calls_unheard), style="yellow" if agent.calls_unheard else ""),
        )
    mean = "—" if report.center_mean is None else f"{report.center_mean:.1f}"
    rows.add_section()
    rows.add_row(Text(""), Text("center"), Text("全中心"), Text(""), Text(str(report.center_calls)), Text(mean),
                 Text(""), Text(""), Text(""), Text(""), Text(str(report.center_calls_unheard)), style="bold")
    stdout.print(rows)
