"""`qcpipe export`: stored data as files other tools read."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from qcpipe.cli.common import DbOption, database, settings_of, stderr
from qcpipe.store import repository as repo

app = typer.Typer(help="Export stored data.", no_args_is_help=True)


class Format(StrEnum):
    JSONL = "jsonl"


@app.command("transcripts")
def export_transcripts(
    ctx: typer.Context,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.JSONL,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    db: DbOption = None,
) -> None:
    """One JSON object per segment: call_id, role, start, end, text, channel, confidence, agent_id, words."""
    settings = settings_of(ctx, db_url=db)
    store = database(settings)
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    count = 0
    try:
        with store.session() as session:
            for call, seg in repo.iter_segments(session):
                row = {
                    "call_id": call.call_id,
                    "role": seg.role,
                    "start": seg.start_s,
                    "end": seg.end_s,
                    "text": seg.text,
                    "channel": seg.channel,
                    "confidence": seg.confidence,
                    "agent_id": call.agent.code if call.agent else None,
                    "words": seg.words,
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if output:
            out.close()
        store.dispose()
    if output:
        stderr.print(f"wrote {count} segments to {output}", highlight=False)
