"""`qcpipe calls` and `qcpipe transcript`: what is in the database."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from qcpipe.cli.common import DbOption, database, fail, settings_of, stdout, table
from qcpipe.errors import NotFoundError
from qcpipe.privacy import mask_stored_segments
from qcpipe.store import CallStatus
from qcpipe.store import repository as repo


def calls_command(
    ctx: typer.Context,
    status: Annotated[CallStatus | None, typer.Option(help="Only calls with this status.")] = None,
    db: DbOption = None,
) -> None:
    """List processed calls: status, agent, duration, and why a call failed."""
    settings = settings_of(ctx, db_url=db)
    zone = ZoneInfo(settings.timezone)
    store = database(settings)
    with store.session() as session:
        rows = repo.list_calls(session, status)
        listing = table("call", "status", "agent", "team", "started", "duration", "channels", "reason" if status is CallStatus.FAILED else "model")
        for call in rows:
            agent = call.agent
            listing.add_row(
                call.call_id,
                call.status,
                f"{agent.code} {agent.name or ''}".strip() if agent else "",
                agent.team.name if agent and agent.team else "",
                call.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if call.started_at else "",
                f"{call.duration_s:.1f}s" if call.duration_s is not None else "",
                "" if call.channels is None else f"{call.channels}{'' if call.roles_known else ' (roles unknown)'}",
                call.error or "" if status is CallStatus.FAILED else (call.error or call.model or ""),
            )
    store.dispose()
    stdout.print(listing)
    stdout.print(f"{len(rows)} call(s)", highlight=False)


def transcript_command(
    ctx: typer.Context,
    call_id: Annotated[str, typer.Argument(help="The call id (CTI id, or the file stem).")],
    db: DbOption = None,
) -> None:
    """Show a call's dialogue: agent and customer in two lanes, with times."""
    settings = settings_of(ctx, db_url=db)
    store = database(settings)
    with store.session() as session:
        try:
            call = repo.load_call(session, call_id)
        except NotFoundError as exc:
            fail(exc)
        agent = call.agent
        zone = ZoneInfo(settings.timezone)
        header = [call.call_id]
        if agent:
            header.append(f"agent {agent.code} {agent.name or ''}".strip())
        if call.started_at:
            header.append(call.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"))
        if call.duration_s is not None:
            header.append(f"{call.duration_s:.1f}s")
        stdout.print(" · ".join(header), style="bold", highlight=False)
        if call.status == CallStatus.FAILED:
            stdout.print(f"failed: {call.error}", style="red", highlight=False, markup=False)
        if call.roles_known is False:
            stdout.print("mono recording: agent and customer cannot be told apart (role unknown)", style="yellow")
        lanes = table("time", "坐席 agent", "客户 customer", expand=True)
        # Masked as shown, whatever was stored: covers centers that keep the heard text.
        texts = mask_stored_segments(call.segments, settings.privacy)
        for seg, text in zip(call.segments, texts):
            span = f"{_clock(seg.start_s)}–{_clock(seg.end_s)}"
            if seg.role == "customer":
                lanes.add_row(span, "", text)
            else:
                lanes.add_row(span, text if seg.role == "agent" else f"? {text}", "")
    store.dispose()
    stdout.print(lanes)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:04.1f}"
