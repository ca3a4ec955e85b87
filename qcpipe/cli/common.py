"""What every command shares: the settings, the database, and turning errors into messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Column, Table

from qcpipe.config import Settings
from qcpipe.errors import QcpipeError
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
    try:
        return state.settings.with_overrides(**overrides)
    except QcpipeError as exc:
        fail(exc)


def database(settings: Settings) -> Database:
    try:
        return open_database(settings.db_url)
    except QcpipeError as exc:
        fail(exc)
    except Exception as exc:  # driver errors: unreachable server, unwritable file …
        fail(f"cannot open database {settings.db_url}: {exc}")


def fail(error: QcpipeError | str, code: int = 1) -> NoReturn:
    stderr.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
    raise typer.Exit(code)


def table(*headers: str, **options: object) -> Table:
    """A table whose cells wrap rather than cut: Chinese text has no spaces to break at,
    and a transcript or a quote must never be shown with its end replaced by "…"."""
    return Table(*(Column(h, overflow="fold") for h in headers), **options)  # type: ignore[arg-type]
