"""The `qcpipe` command. Each command group is its own module; they only parse and print.

Exit codes: 0 success; 1 error (message on stderr); 2 usage error; 3 the batch completed but
some calls failed (listed by `qcpipe calls --status failed`).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from qcpipe.cli import calls, config, examples, export, model, report, review, rules, run, scoring, serve, users
from qcpipe.cli import retry
from qcpipe.cli.common import AppState, stderr
from qcpipe.config import load_settings
from qcpipe.errors import QcpipeError

app = typer.Typer(
    name="qcpipe",
    help="Quality monitoring for Mandarin call centers: transcribe every call, check it against the scripts, score it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="Settings file (TOML, see configs/qcpipe.toml). Default: $QCPIPE_CONFIG.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens, to stderr.")] = False,
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = AppState(load_settings(config))


app.command("run")(run.run_command)
app.command("transcript")(calls.transcript_command)
app.command("calls")(calls.calls_command)
app.command("retry")(retry.retry_command)
app.command("score")(scoring.score_command)
app.command("eval")(scoring.eval_command)
app.command("flagged")(review.flagged_command)
app.command("finding")(review.finding_command)
app.command("review")(review.review_command)
app.command("appeal")(review.appeal_command)
app.command("appeal-decide")(review.appeal_decide_command)
app.command("calibration")(review.calibration_command)
app.command("examples")(examples.examples_command)
app.add_typer(export.app, name="export")
app.add_typer(report.app, name="report")
app.add_typer(rules.app, name="rules")
app.add_typer(model.app, name="model")
app.add_typer(config.app, name="config")
app.add_typer(users.app, name="users")
app.command("serve")(serve.serve_command)


def main() -> None:
    """The one place where errors become messages and exit codes: a command raises, this says it."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted; calls already stored are kept, re-run the same command to resume", file=sys.stderr)
        raise SystemExit(130) from None
    except QcpipeError as exc:
        _say_error(str(exc))
        raise SystemExit(exc.exit_code) from None
    except SQLAlchemyError as exc:  # a database error no service put in plainer words
        logging.getLogger(__name__).info("database error", exc_info=True)
        _say_error(f"database error: {(str(getattr(exc, 'orig', None) or exc).strip().splitlines() or ['?'])[0]}")
        raise SystemExit(1) from None


def _say_error(message: str) -> None:
    # Plain text (a file name may hold "["), on one line however wide the terminal.
    stderr.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True, highlight=False)
