"""`qcpipe retry`: mark failed calls to be tried again by the next `qcpipe run` (as the jobs page does)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from qcpipe.calls.retry import mark_for_retry
from qcpipe.cli.common import DbOption, open_store, settings_of, stdout
from qcpipe.store.models import utcnow


def retry_command(
    ctx: typer.Context,
    call_ids: Annotated[list[str], typer.Argument(help="Failed calls (as `qcpipe calls --status failed` lists them).")],
    db: DbOption = None,
) -> None:
    """Mark failed calls to be tried again by the next run over their folder, without --retry-failed."""
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.transaction() as session:
        marked = mark_for_retry(session, call_ids, by=f"shell:{getpass.getuser()}", now=utcnow())
    stdout.print(f"marked {len(marked)} call(s) to be tried again by the next run: {', '.join(marked)}",
                 highlight=False, markup=False)
