"""`qcpipe export`: stored data as files other tools read."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from itertools import groupby
from pathlib import Path
from typing import Annotated, TextIO

import typer

from qcpipe.cli.common import DbOption, database, settings_of, stderr
from qcpipe.privacy import mask_stored_segments, mask_text, mask_word_texts
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
    with _open(output) as out, store.session() as session:
        count = 0
        # Masked per call as exported, whatever was stored: a number read across utterances is seen whole.
        for _, pairs in groupby(repo.iter_segments(session), key=lambda pair: pair[0].call_id):
            pairs = list(pairs)
            texts = mask_stored_segments([seg for _, seg in pairs], settings.privacy)
            for (call, seg), text in zip(pairs, texts):
                word_texts = mask_word_texts([w[0] for w in seg.words], seg.text, text, settings.privacy)
                row = {
                    "call_id": call.call_id,
                    "role": seg.role,
                    "start": seg.start_s,
                    "end": seg.end_s,
                    "text": text,
                    "channel": seg.channel,
                    "confidence": seg.confidence,
                    "agent_id": call.agent.code if call.agent else None,
                    "words": [[t, *w[1:]] for t, w in zip(word_texts, seg.words)],
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    store.dispose()
    if output:
        stderr.print(f"wrote {count} segments to {output}", highlight=False)


@app.command("findings")
def export_findings(
    ctx: typer.Context,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.JSONL,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    db: DbOption = None,
) -> None:
    """One JSON object per finding: call_id, rule_id, deduction, speaker, start, end, quote, status, and the match evidence."""
    settings = settings_of(ctx, db_url=db)
    store = database(settings)
    with _open(output) as out, store.session() as session:
        count = 0
        for call, finding in repo.iter_findings(session):
            row = {
                "call_id": call.call_id,
                "rule_id": finding.rule_id,
                "deduction": finding.deduction,
                "speaker": finding.speaker,
                "start": finding.start_s,
                "end": finding.end_s,
                "quote": mask_text(finding.quote, settings.privacy),
                "status": finding.status,
                "finding_id": finding.id,
                "title": finding.title,
                "severity": finding.severity,
                "veto": finding.veto,
                "phrase": finding.phrase,
                "wording": finding.wording,
                "match_kind": finding.match_kind,
                "match_score": finding.match_score,
                "note": finding.note,
                "rulebook_hash": finding.rulebook_hash,
                "agent_id": call.agent.code if call.agent else None,
                "call_score": call.qa_score,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    store.dispose()
    if output:
        stderr.print(f"wrote {count} findings to {output}", highlight=False)


@contextmanager
def _open(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
    else:
        with open(output, "w", encoding="utf-8") as handle:
            yield handle
