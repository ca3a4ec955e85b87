"""`qcpipe score`, `qcpipe eval` and `qcpipe rules`: findings from stored transcripts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from qcpipe.cli.common import DbOption, database, fail, settings_of, stderr, stdout
from qcpipe.errors import QcpipeError
from qcpipe.pipeline.scoring import score_stored_calls
from qcpipe.scoring import Rulebook, evaluate, load_rulebook
from qcpipe.store import repository as repo

RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="Rulebook YAML (default: configs/rules/default.yaml or [scoring] rules).")
]


def load_rules(path: Path) -> Rulebook:
    try:
        return load_rulebook(path)
    except QcpipeError as exc:
        fail(exc)


def score_command(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option(help="Only calls started on or after this date (YYYY-MM-DD).", formats=["%Y-%m-%d"])
    ] = None,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Re-score stored transcripts with the rulebook (no ASR): after changing a rule, run this."""
    settings = settings_of(ctx, db_url=db, rules=rules)
    rulebook = load_rules(settings.rules)
    if since is not None:
        from zoneinfo import ZoneInfo

        since = since.replace(tzinfo=ZoneInfo(settings.timezone))
    store = database(settings)
    try:
        summary = score_stored_calls(store, rulebook, since=since)
    finally:
        store.dispose()
    stdout.print(
        f"scored {summary.calls} calls · {summary.findings} findings · rulebook {rulebook.content_hash[:12]} · "
        f"{summary.wall_s:.2f} s ({summary.calls_per_s:.0f} calls/s)",
        highlight=False,
    )


def eval_command(
    ctx: typer.Context,
    labels_dir: Annotated[Path, typer.Argument(help="Folder of label files (<call_id>.json with `violations`).")],
    db: DbOption = None,
) -> None:
    """Compare stored findings with labelled calls: per-check precision/recall/F1, micro-F1, clean calls flagged."""
    settings = settings_of(ctx, db_url=db)
    store = database(settings)
    try:
        with store.session() as session:
            predicted = repo.violations_by_call(session)
    finally:
        store.dispose()
    if not predicted:
        fail("no scored calls in the database: run `qcpipe run` (or `qcpipe score`) first")
    try:
        report = evaluate(predicted, labels_dir)
    except QcpipeError as exc:
        fail(exc)
    stdout.print(report.format(), highlight=False, markup=False)
    if report.calls_compared == 0:
        stderr.print("no call in the labels is in the database", highlight=False)
        raise typer.Exit(1)
