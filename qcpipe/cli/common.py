"""What every command shares: the settings, the database, and tables that never cut text."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.engine import make_url

from qcpipe.config import Settings
from qcpipe.scoring import ActiveRulebook, Rulebook, active_rulebook, file_rulebook, load_rulebook
from qcpipe.store import Database, open_database

stdout = Console()
stderr = Console(stderr=True)

DbOption = Annotated[
    str | None, typer.Option("--db", help="SQLAlchemy database URL. Default: $QCPIPE_DB, else ~/.local/share/qcpipe/qcpipe.db.")
]


@dataclass
class AppState:
    settings: Settings


def settings_of(ctx: typer.Context, **overrides: object) -> Settings:
    state: AppState = ctx.find_root().obj
    return state.settings.with_overrides(**overrides)


@contextmanager
def open_store(settings: Settings) -> Iterator[Database]:
    """The command's database, opened (and migrated) on entry and closed on exit."""
    store = open_database(settings.db_url)
    try:
        yield store
    finally:
        store.dispose()


def rulebook_in_force(settings: Settings, explicit: Path | None) -> Rulebook:
    """The rulebook a command scores with: `--rules FILE` when given, else the newest version
    published in the database (the web rulebook editor), else the settings' file."""
    if explicit is not None:
        return load_rulebook(explicit)
    return stored_active_rulebook(settings).rulebook


def stored_active_rulebook(settings: Settings) -> ActiveRulebook:
    """The rulebook in force in the settings' database (the settings' file while none is published).
    A SQLite database not created yet holds none: it is not created just to be asked."""
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return file_rulebook(settings.rules)
    with open_store(settings) as store, store.session() as session:
        return active_rulebook(session, settings.rules)


def table(*headers: str, **options: object) -> Table:
    """A table whose cells wrap rather than cut: Chinese text has no spaces to break at,
    and a transcript or a quote must never be shown with its end replaced by "…"."""
    return Table(*(Column(h, overflow="fold") for h in headers), **options)  # type: ignore[arg-type]
