"""`qcpipe flagged | finding | review | appeal | appeal-decide | calibration`: the monitors' work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from qcpipe.cli.common import DbOption, open_store, settings_of, stdout, table
from qcpipe.config import Settings
from qcpipe.errors import UsageError
from qcpipe.periods import days_period, parse_month, zone
from qcpipe.review import FindingView, calibration, decide_appeal, file_appeal, finding_history, flagged_calls, review_finding
from qcpipe.store.models import utcnow

T = TypeVar("T")
DateOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (center time).")]


def _in_transaction(settings: Settings, work: Callable[[Session], T]) -> T:
    """Run one unit of work; a refused decision raises and changes nothing."""
    with open_store(settings) as store, store.transaction() as session:
        return work(session)


def flagged_command(
    ctx: typer.Context,
    date: DateOption = None,
    since: DateOption = None,
    team: Annotated[str | None, typer.Option(help="Team name.")] = None,
    agent: Annotated[str | None, typer.Option(help="Agent id (工号).")] = None,
    rule: Annotated[str | None, typer.Option(help="Check id, e.g. forbidden_phrase.")] = None,
    uncertain: Annotated[bool, typer.Option(
        "--uncertain", help="Only uncertain findings (doubtful evidence: they deduct nothing until confirmed).")] = False,
    db: DbOption = None,
) -> None:
    """Calls with findings not yet ruled on, worst score first, each with its findings: open ones,
    and uncertain ones (evidence heard too poorly to be sure: they deduct nothing until confirmed)."""
    settings = settings_of(ctx, db_url=db)
    period = days_period(settings.timezone, on=date, since=since)
    calls = _in_transaction(
        settings, lambda s: flagged_calls(s, settings.privacy, period=period, team=team, agent=agent, rule=rule,
                                          uncertain_only=uncertain)
    )
    center = zone(settings.timezone)
    for call in calls:
        when = call.started_at.astimezone(center).strftime("%Y-%m-%d %H:%M") if call.started_at else ""
        who = f"{call.agent_id or ''} {call.agent_name or ''}".strip()
        score = "—" if call.score is None else f"{call.score:g}"
        unheard = f" · {call.unheard_agent_s:.1f}s of agent speech unheard" if call.unheard_agent_s else ""
        stdout.print(f"{call.call_id} · score {score} · {who} · {call.team or ''} · {when}{unheard}",
                     style="bold", highlight=False, markup=False)
        for f in call.findings:
            stdout.print(_finding_line(f), highlight=False, markup=False)
            if f.doubt:
                stdout.print(f"      doubt: {f.doubt}", highlight=False, markup=False)
    uncertain_n = sum(call.uncertain for call in calls)
    if uncertain:
        stdout.print(f"{len(calls)} call(s) with uncertain findings ({uncertain_n}): they deduct nothing until "
                     "a monitor confirms them", highlight=False)
    elif uncertain_n:
        stdout.print(f"{len(calls)} call(s) with open or uncertain findings ({uncertain_n} uncertain: they deduct "
                     "nothing until a monitor confirms them)", highlight=False)
    else:
        stdout.print(f"{len(calls)} call(s) with open findings", highlight=False)


def _finding_line(f: FindingView) -> str:
    """A finding on one line; an uncertain one says it deducts nothing yet."""
    pending = " · UNCERTAIN: deducts nothing until confirmed" if f.uncertain else ""
    return (f"  #{f.id} {f.rule_id} −{f.deduction:g}{' veto' if f.veto else ''} {f.speaker} "
            f"{f.start:.1f}–{f.end:.1f}s “{f.quote}” [{f.match_kind}] {f.note}{pending}")


def finding_command(
    ctx: typer.Context,
    finding_id: Annotated[int, typer.Argument(help="Finding id (from flagged or export findings).")],
    db: DbOption = None,
) -> None:
    """A finding's evidence and its whole review and appeal history."""
    settings = settings_of(ctx, db_url=db)
    view, events = _in_transaction(settings, lambda s: finding_history(s, finding_id, settings.privacy))
    center = zone(settings.timezone)
    status = f"{view.status} (deducts nothing until a monitor confirms it)" if view.uncertain else view.status
    stdout.print(
        f"#{view.id} {view.call_id} {view.rule_id} ({view.title}) −{view.deduction:g} · {status}\n"
        f"  {view.speaker} {view.start:.1f}–{view.end:.1f}s “{view.quote}” ≈ {view.phrase} [{view.match_kind}] {view.note}",
        highlight=False,
        markup=False,
    )
    if view.doubt:
        stdout.print(f"  doubt: {view.doubt}", highlight=False, markup=False)
    for event in events:
        stdout.print(f"  {event.at.astimezone(center):%Y-%m-%d %H:%M} {event.what} by {event.who}: {event.comment}",
                     highlight=False, markup=False)


def review_command(
    ctx: typer.Context,
    finding_id: Annotated[int, typer.Argument(help="Finding id.")],
    by: Annotated[str, typer.Option("--by", help="The monitor's name.")],
    confirm: Annotated[bool, typer.Option("--confirm", help="The finding is right.")] = False,
    overturn: Annotated[bool, typer.Option("--overturn", help="The finding is wrong: it stops deducting.")] = False,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    db: DbOption = None,
) -> None:
    """Confirm or overturn a finding; the call's score is recomputed. Re-reviewing keeps the history."""
    if confirm == overturn:
        raise UsageError("give exactly one of --confirm or --overturn")
    settings = settings_of(ctx, db_url=db)

    def work(session: Session) -> str:
        finding = review_finding(session, finding_id, confirm=confirm, reviewer=by, comment=comment, now=utcnow())
        return f"finding #{finding.id} {finding.status} · call {finding.call.call_id} score now {finding.call.qa_score:g}"

    stdout.print(_in_transaction(settings, work), highlight=False)


def appeal_command(
    ctx: typer.Context,
    finding_id: Annotated[int, typer.Argument(help="Finding id.")],
    by: Annotated[str, typer.Option("--by", help="The agent's id (工号).")],
    reason: Annotated[str, typer.Option(help="Why the finding is wrong.")],
    db: DbOption = None,
) -> None:
    """An agent appeals a finding on one of their calls (within the appeal window)."""
    settings = settings_of(ctx, db_url=db)

    def work(session: Session) -> str:
        appeal = file_appeal(
            session, finding_id, agent=by, reason=reason, window_days=settings.appeal_window_days, now=utcnow()
        )
        return f"appeal {appeal.id} filed on finding #{finding_id}: pending a monitor's ruling"

    stdout.print(_in_transaction(settings, work), highlight=False)


def appeal_decide_command(
    ctx: typer.Context,
    appeal_id: Annotated[int, typer.Argument(help="Appeal id.")],
    by: Annotated[str, typer.Option("--by", help="The monitor's name.")],
    uphold: Annotated[bool, typer.Option("--uphold", help="The agent is right: overturn the finding.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="The finding stands: confirm it.")] = False,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    db: DbOption = None,
) -> None:
    """Rule on an appeal. The ruling is final."""
    if uphold == reject:
        raise UsageError("give exactly one of --uphold or --reject")
    settings = settings_of(ctx, db_url=db)

    def work(session: Session) -> str:
        appeal = decide_appeal(session, appeal_id, uphold=uphold, by=by, comment=comment, now=utcnow())
        call = appeal.finding.call
        return f"appeal {appeal.id} {appeal.status} (final) · finding #{appeal.finding_id} {appeal.finding.status} · call {call.call_id} score now {call.qa_score:g}"

    stdout.print(_in_transaction(settings, work), highlight=False)


def calibration_command(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: all).")] = None,
    db: DbOption = None,
) -> None:
    """Per check: how often monitors confirmed or overturned the machine (precision as reviewed)."""
    settings = settings_of(ctx, db_url=db)
    if month is not None:
        month = parse_month(month)  # a bad month is said before the database is opened
    rows = _in_transaction(settings, lambda s: calibration(s, month=month, timezone=settings.timezone))
    out = table("check", "findings", "reviewed", "confirmed", "overturned", "uncertain", "precision as reviewed")
    for row in rows:
        out.add_row(
            row.rule_id, str(row.findings), str(row.reviewed), str(row.confirmed), str(row.overturned),
            str(row.uncertain), "—" if row.precision is None else f"{row.precision:.0%}",
        )
    stdout.print(out)
    stdout.print("A check with low precision needs its phrases or thresholds fixed (qcpipe rules test).", highlight=False)
