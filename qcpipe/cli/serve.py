"""`qcpipe serve`: the web workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from qcpipe.cli.common import DbOption, open_store, settings_of, stderr


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface, e.g. behind a proxy).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the web workspace (review, appeals, assignment) over the database; it may run
    while `qcpipe run` writes to the same database. Create accounts with `qcpipe users add`."""
    import uvicorn  # only this command needs the server

    from qcpipe.web import create_app

    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store:
        app = create_app(settings, store)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        stderr.print(f"qcpipe web workspace: http://{shown}:{port}/  (Ctrl+C stops it)", highlight=False, markup=False)
        server.run()
