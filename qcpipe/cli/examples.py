"""`qcpipe examples`: the worst findings of a check as audio clips and excerpts, for trainers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qcpipe.cli.common import DbOption, open_store, settings_of, stderr, stdout
from qcpipe.reports.examples import DEFAULT_CONTEXT_S, ExampleQuery, write_examples
from qcpipe.scoring import active_rulebook


def examples_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the clips, excerpts, index.csv and index.html to.")],
    rule: Annotated[
        str | None, typer.Option("--rule", help="Check id, e.g. forbidden_phrase; every check when left out.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only calls of this agent id (工号).")] = None,
    month: Annotated[str | None, typer.Option("--month", help="Only calls started in this month, YYYY-MM (center time).")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="Only findings of this severity: critical, major or minor.")
    ] = None,
    marked: Annotated[
        bool, typer.Option("--marked", help="Only the findings trainers marked as training examples (培训案例库).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many examples at most.")] = 10,
    context: Annotated[
        float, typer.Option("--context", min=0.0, help="Seconds of audio kept before and after the evidence.")
    ] = DEFAULT_CONTEXT_S,
    db: DbOption = None,
) -> None:
    """Worst examples of a check, or of the examples trainers marked (highest deduction, veto,
    most recent; never overturned ones):
    a stereo WAV clip of each with context, the transcript excerpt with the evidence marked,
    index.csv and index.html (the same pack the web library builds). Exit code 3 when some
    recordings were missing and skipped."""
    settings = settings_of(ctx, db_url=db)
    query = ExampleQuery(rule_id=rule, agent=agent, month=month, limit=limit, context_s=context, severity=severity,
                         marked_only=marked)
    with open_store(settings) as store, store.session() as session:
        known_rules = active_rulebook(session, settings.rules).rulebook.rule_ids
        result = write_examples(
            session, query, out, timezone=settings.timezone, privacy=settings.privacy, known_rules=known_rules
        )
    for e in result.examples:
        evidence = f"missing “{e.phrase}”" if e.missing else f"“{e.quote}”"
        stdout.print(
            f"{e.rank:>2}. {e.call_id} {e.agent or ''} −{e.deduction:g}{' veto' if e.veto else ''} {e.status} "
            f"{e.start:.1f}–{e.end:.1f}s {evidence} → {e.clip}",
            highlight=False,
            markup=False,
        )
    for s in result.skipped:
        stderr.print(f"skipped {s.call_id} (finding {s.finding_id}): {s.reason}", style="yellow", highlight=False, markup=False)
    stdout.print(f"wrote {len(result.examples)} example(s) to {result.folder}: index.html, index.csv", highlight=False)
    if result.skipped:
        raise typer.Exit(3)
