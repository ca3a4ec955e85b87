"""`qcpipe config`: the settings file to copy and edit."""

from __future__ import annotations

import typer

from qcpipe.configs import SETTINGS_TEMPLATE_NAME, shipped

app = typer.Typer(help="The settings file.", no_args_is_help=True)


@app.command("template")
def template() -> None:
    """Print the annotated settings file (every key, its default and why): save it, edit it, pass it with --config."""
    typer.echo(shipped(SETTINGS_TEMPLATE_NAME).read_text(encoding="utf-8"), nl=False)
