"""`qcpipe export`: stored data as files other tools read."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Protocol, TextIO

import typer

from qcpipe.calls import finding_records, transcript_records
from qcpipe.cli.common import DbOption, open_store, settings_of, stderr
from qcpipe.errors import QcpipeError

app = typer.Typer(help="Export stored data.", no_args_is_help=True)


class Format(StrEnum):
    JSONL = "jsonl"


FormatOption = Annotated[Format, typer.Option("--format", help="Output format.")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")]


@app.command("transcripts")
def export_transcripts(
    ctx: typer.Context, format: FormatOption = Format.JSONL, output: OutputOption = None, db: DbOption = None
) -> None:
    """One JSON object per segment: call_id, role, start, end, text, channel, confidence, agent_id, words."""
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.session() as session:
        count = _write_jsonl(transcript_records(session, settings.privacy), output)
    if output:
        stderr.print(f"wrote {count} segments to {output}", highlight=False)


@app.command("findings")
def export_findings(
    ctx: typer.Context, format: FormatOption = Format.JSONL, output: OutputOption = None, db: DbOption = None
) -> None:
    """One JSON object per finding: call_id, rule_id, deduction, speaker, start, end, quote, status, and the match evidence."""
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.session() as session:
        count = _write_jsonl(finding_records(session, settings.privacy), output)
    if output:
        stderr.print(f"wrote {count} findings to {output}", highlight=False)


class _Record(Protocol):
    def as_dict(self) -> dict: ...


def _write_jsonl(records: Iterable[_Record], output: Path | None) -> int:
    count = 0
    with _open(output) as out:
        for record in records:
            out.write(json.dumps(record.as_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


@contextmanager
def _open(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        handle = open(output, "w", encoding="utf-8")
    except OSError as exc:
        raise QcpipeError(f"cannot write {output}: {exc.strerror}") from None
    with handle:
        yield handle
