"""`qcpipe run`: the nightly batch."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from qcpipe.cli.common import DbOption, open_store, rulebook_in_force, settings_of, stderr, stdout
from qcpipe.cli.scoring import RulesOption
from qcpipe.errors import QcpipeError, UsageError, shown_path
from qcpipe.ingest import SettleWait, sources_for
from qcpipe.pipeline import BatchSummary, CallOutcome, Outcome, asr_options, transcribe_sources

EXIT_SOME_FAILED = 3


class Executor(StrEnum):
    """Where the calls are transcribed (`Settings.executor`)."""

    LOCAL = "local"
    RAY = "ray"


def run_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A folder of recordings (searched recursively) or one audio file.")],
    manifest: Annotated[
        Path | None, typer.Option(help="CTI manifest CSV (call_id,audio,agent_id,agent_name,team,started_at,queue_wait_s).")
    ] = None,
    db: DbOption = None,
    model: Annotated[str | None, typer.Option(help="'base' (embedded) or a CTranslate2 Whisper model directory.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    compute_type: Annotated[str | None, typer.Option(help="auto, int8, float16, int8_float16, float32 …")] = None,
    workers: Annotated[int | None, typer.Option(help="Parallel transcriptions (0 = one per core).")] = None,
    agent_channel: Annotated[int | None, typer.Option(help="Channel of the agent in stereo recordings (default 0).")] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Try again the calls that failed before (those marked for retry are tried anyway).")] = False,
    rules: RulesOption = None,
    executor: Annotated[Executor | None, typer.Option(
        help="local: this machine's threads (default). ray: the workers of a Ray cluster (pip install "
             "'qcpipe\\[ray]'; qcpipe, the model and the recordings at the same paths on every node).")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="With --executor ray: the cluster to join, 'auto' (the one this machine is in) or HOST:PORT of its "
             "head. Default: start Ray on this machine.")] = None,
) -> None:
    """Transcribe and score a day's recordings into the database. Re-running skips calls already done."""
    overrides: dict[str, object] = dict(
        db_url=db, model=model, device=device, compute_type=compute_type, workers=workers, rules=rules,
        executor=executor.value if executor else None, ray_address=ray_address,
    )
    settings = settings_of(ctx, **overrides).with_agent_channel(agent_channel)
    if ray_address is not None and settings.executor != Executor.RAY:
        raise UsageError("--ray-address is for --executor ray")
    rulebook = rulebook_in_force(settings, rules)  # a malformed rulebook stops the run before any work
    sources = sources_for(path, manifest, settings.timezone)
    total = len(sources)  # a counting pass: the calls themselves are streamed, never listed
    asr_options(settings)  # a device that is not there stops the run before the progress bar
    for warning in sources.warnings:
        stderr.print(f"warning: {warning}", style="yellow", highlight=False, markup=False)
    if not total:
        raise QcpipeError(f"no audio files found under {path}" + (f" listed in {manifest}" if manifest else ""))

    progress = Progress(
        TextColumn("[bold]transcribing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
    )
    task = progress.add_task("calls", total=total, last="")

    def on_outcome(outcome: CallOutcome) -> None:
        mark = {Outcome.DONE: "[green]✓", Outcome.SKIPPED: "[dim]=", Outcome.BUSY: "[dim]~", Outcome.FAILED: "[red]✗"}
        progress.update(task, advance=1, last=f"{mark[outcome.outcome]} {escape(outcome.call_id)}[/]")

    def on_settle_wait(waiting: SettleWait) -> None:
        progress.update(task, last=f"[yellow]{escape(waiting.describe())}[/]")

    with open_store(settings) as store, progress:
        summary = transcribe_sources(
            settings, sources, store, retry_failed=retry_failed, rulebook=rulebook, on_outcome=on_outcome,
            on_settle_wait=on_settle_wait, record_as=shown_path(path.absolute()),  # the run's row on the jobs page
        )
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def _print_summary(summary: BatchSummary) -> None:
    stdout.print(
        f"calls done {summary.done} · skipped {summary.skipped} · "
        + (f"busy in another run {summary.busy} · " if summary.busy else "")
        + f"failed {summary.failed} · "
        f"audio {summary.audio_s / 3600:.3f} h · wall {summary.wall_s:.1f} s · "
        f"{summary.x_realtime:.1f}× realtime",
        highlight=False,
    )
    for failure in summary.failures:
        stdout.print(f"  failed {failure.call_id}: {failure.error}", highlight=False, markup=False)
