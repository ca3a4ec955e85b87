"""`qcpipe calls` and `qcpipe transcript`: what is in the database."""

from __future__ import annotations

from typing import Annotated

import typer

from rich.text import Text

from qcpipe.calls import UnheardView, call_detail, list_calls
from qcpipe.cli.common import DbOption, open_store, settings_of, stdout, table
from qcpipe.periods import zone
from qcpipe.scoring.timeline import CallStats
from qcpipe.store import CallStatus


def calls_command(
    ctx: typer.Context,
    status: Annotated[CallStatus | None, typer.Option(help="Only calls with this status.")] = None,
    db: DbOption = None,
) -> None:
    """List processed calls: status, agent, duration, and why a call failed."""
    settings = settings_of(ctx, db_url=db)
    center = zone(settings.timezone)
    with open_store(settings) as store, store.session() as session:
        rows = list_calls(session, status)
    listing = table("call", "status", "agent", "team", "started", "duration", "channels", "reason" if status is CallStatus.FAILED else "model")
    for call in rows:
        listing.add_row(
            call.call_id,
            call.status,
            f"{call.agent_id or ''} {call.agent_name or ''}".strip(),
            call.team or "",
            call.started_at.astimezone(center).strftime("%Y-%m-%d %H:%M") if call.started_at else "",
            f"{call.duration_s:.1f}s" if call.duration_s is not None else "",
            "" if call.channels is None else f"{call.channels}{'' if call.roles_known else ' (roles unknown)'}",
            call.error or "" if status is CallStatus.FAILED else (call.error or call.model or ""),
        )
    stdout.print(listing)
    stdout.print(f"{len(rows)} call(s)", highlight=False)


def transcript_command(
    ctx: typer.Context,
    call_id: Annotated[str, typer.Argument(help="The call id (CTI id, or the file stem).")],
    db: DbOption = None,
) -> None:
    """Show a call's dialogue: agent and customer in two lanes, with times; speech that could not
    be transcribed (unheard) in its place, the call's figures (talk time, silence, overlaps,
    agent speech rate), and the checks not applied, with why."""
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.session() as session:
        detail = call_detail(session, call_id, settings.privacy)
    call = detail.call
    header = [call.call_id]
    if call.agent_id:
        header.append(f"agent {call.agent_id} {call.agent_name or ''}".strip())
    if call.started_at:
        header.append(call.started_at.astimezone(zone(settings.timezone)).strftime("%Y-%m-%d %H:%M"))
    if call.duration_s is not None:
        header.append(f"{call.duration_s:.1f}s")
    stdout.print(" · ".join(header), style="bold", highlight=False, markup=False)
    if detail.failed:
        stdout.print(f"failed: {call.error}", style="red", highlight=False, markup=False)
    if call.roles_known is False:
        stdout.print("mono recording: agent and customer cannot be told apart (role unknown)", style="yellow")
    if detail.unheard_agent_s:
        stdout.print(f"{detail.unheard_agent_s:.1f}s of the agent's speech could not be transcribed (unheard)",
                     style="yellow", highlight=False, markup=False)
    if detail.stats is not None:
        stdout.print(_figures(detail.stats), highlight=False, markup=False)
    lanes = table("time", "坐席 agent", "客户 customer", expand=True)
    for _kind, item in detail.timeline:
        span = f"{_clock(item.start)}–{_clock(item.end)}"
        if isinstance(item, UnheardView):
            text = Text(f"[未能识别 unheard {item.start:.1f}–{item.end:.1f} s]", style="italic yellow")
        else:
            text = Text(item.text if item.role != "unknown" else f"? {item.text}")
        if item.role == "customer":
            lanes.add_row(span, "", text)
        else:
            lanes.add_row(span, text, "")
    stdout.print(lanes)
    if detail.uncertain_findings:
        stdout.print(f"{detail.uncertain_findings} uncertain finding(s): they deduct nothing until a monitor confirms "
                     "them (qcpipe flagged --uncertain)", highlight=False, markup=False)
    for rule_id, reason in detail.not_applicable:
        stdout.print(f"not applied: {rule_id}: {reason}", style="dim", highlight=False, markup=False)


def _figures(stats: CallStats) -> str:
    """The call's figures on one line: talk time, silence, overlaps, agent speech rate."""
    parts = []
    if stats.agent_talk_s is not None:
        parts.append(f"talk agent {stats.agent_talk_s:.1f}s, customer {stats.customer_talk_s:.1f}s")
    parts.append(f"silence {stats.silence_s:.1f}s (longest {stats.longest_silence_s:.1f}s)")
    if stats.overlaps is not None:
        parts.append(f"overlaps {stats.overlaps} ({stats.overlap_s:.1f}s)")
    if stats.agent_chars_per_min is not None:
        parts.append(f"agent rate {stats.agent_chars_per_min:.0f} chars/min")
    return " · ".join(parts)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:04.1f}"
