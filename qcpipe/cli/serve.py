"""`qcpipe serve`: the web workspace."""

from __future__ import annotations

import asyncio
import socket
from typing import Annotated

import typer

from qcpipe.cli.common import DbOption, open_store, settings_of, stderr
from qcpipe.errors import QcpipeError


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
    _check_free(host, port)
    with open_store(settings) as store:
        server = uvicorn.Server(uvicorn.Config(create_app(settings, store), host=host, port=port,
                                               log_level="warning", access_log=False))
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host

        async def serve() -> None:
            running = asyncio.create_task(server.serve())
            while not server.started and not running.done():
                await asyncio.sleep(0.05)
            if server.started:  # the URL once it answers, not before
                stderr.print(f"qcpipe web workspace: http://{shown}:{port}/  (Ctrl+C stops it)", highlight=False,
                             markup=False)
            await running

        asyncio.run(serve())


def _check_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise QcpipeError(f"cannot listen on {host}:{port}: {exc.strerror} (another server there? try --port)") from None
