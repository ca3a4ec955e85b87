"""`qcpipe score` and `qcpipe eval`: findings from stored transcripts, and how good they are."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from qcpipe.cli.common import DbOption, open_store, rulebook_in_force, settings_of, stdout
from qcpipe.errors import QcpipeError
from qcpipe.periods import day_start
from qcpipe.pipeline.scoring import evaluate_stored, score_stored_calls

RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="Rulebook YAML (default: the newest version published in the database, "
                                             "else [scoring] rules, else the shipped rulebook).")
]


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
    rulebook = rulebook_in_force(settings, rules)
    start = day_start(since, settings.timezone) if since is not None else None
    with open_store(settings) as store:
        summary = score_stored_calls(store, rulebook, since=start)
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
    with open_store(settings) as store:
        report = evaluate_stored(store, labels_dir)
    stdout.print(report.format(), highlight=False, markup=False)
    if report.calls_compared == 0:
        raise QcpipeError("no call in the labels is in the database")
