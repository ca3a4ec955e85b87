"""`qcpipe rules`: check a rulebook and try sentences against it before re-scoring.

Both `check` and `test` take `--format json` for scripts (a CI job that checks a center's
rulebook, an editor plugin): one JSON document on stdout, shaped by the models below, and on
an error a JSON document naming the file and line, with the same exit code as the text output.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.cells import cell_len
from rich.table import Column, Table
from rich.text import Text

from qcpipe.asr.types import Role
from qcpipe.cli.common import DbOption, open_store, settings_of, stored_active_rulebook, stdout, table
from qcpipe.errors import QcpipeError
from qcpipe.scoring import DEFAULT_RULEBOOK, Rulebook, explain, get_version, list_versions, load_rulebook, \
    rulebook_json_schema
from qcpipe.scoring.explain import Explanation, NearMiss, PhraseMatch, SentenceReading, TakenBackPhrase

app = typer.Typer(help="Check and try out a rulebook.", no_args_is_help=True)


class OutputFormat(StrEnum):
    TEXT = "text"  # for people
    JSON = "json"  # for scripts


class CheckJson(BaseModel):
    """One check of the rulebook, as `rules check --format json` lists it."""

    id: str
    title: str
    kind: str
    deduction: float
    severity: str
    veto: bool
    line: int


class RulebookJson(BaseModel):
    """`rules check --format json`: the rulebook is valid; what it holds."""

    rulebook: str
    name: str
    version: str
    content_hash: str
    checks: list[CheckJson]


class SentenceJson(BaseModel):
    """`rules test --format json`: the rule phrases a sentence matches (best first), the
    phrase lists that nearly matched (closest first), the phrases heard that do not count and
    why, and the meaning models' readings."""

    rulebook: str
    content_hash: str
    text: str
    role: Role
    threshold: float
    matches: list[PhraseMatch]
    near_misses: list[NearMiss]
    taken_back: list[TakenBackPhrase]
    readings: list[SentenceReading]


class ErrorDetail(BaseModel):
    """What went wrong: `message` as the text output says it; `file` and `line` where known."""

    message: str
    file: str | None
    line: int | None
    cause: str


class ErrorJson(BaseModel):
    """Either command's JSON output when it fails (the exit code is that of the text output)."""

    error: ErrorDetail


def _fields(shape: type) -> str:
    """The field names of a JSON shape, for the help (so it cannot fall behind the models)."""
    names = shape.model_fields if issubclass(shape, BaseModel) else [f.name for f in dataclasses.fields(shape)]
    return ", ".join(names)


_ERROR_HELP = (f"On an error (a rulebook that does not load) it prints {{\"error\": {{{_fields(ErrorDetail)}}}}} "
               "on stdout instead, with the exit code of the text output (1).")

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text (for people) or json (one JSON document on stdout, for scripts).")
]
RulebookArgument = Annotated[
    Path | None, typer.Argument(help="Rulebook YAML (default: the active one: the newest version published in the "
                                     "database, else [scoring] rules of the config, else the shipped one).")
]


def _rulebook(ctx: typer.Context, file: Path | None) -> Rulebook:
    return load_rulebook(file) if file is not None else stored_active_rulebook(settings_of(ctx)).rulebook


@contextmanager
def _errors_as(format: OutputFormat) -> Iterator[None]:
    """With --format json, an error is a JSON document on stdout too; the exit code stays."""
    try:
        yield
    except QcpipeError as exc:
        if format is not OutputFormat.JSON:
            raise
        where = getattr(exc, "source", None) or getattr(exc, "path", None)
        detail = ErrorDetail(message=str(exc), file=str(where) if where is not None else None,
                             line=getattr(exc, "line", None), cause=getattr(exc, "cause", None) or str(exc))
        typer.echo(ErrorJson(error=detail).model_dump_json(indent=2))
        raise typer.Exit(exc.exit_code) from None


@app.command(
    "check",
    help="Validate a rulebook; errors name the line (unknown kind, bad window, duplicate id …).\n\n"
    f"--format json prints {{{_fields(RulebookJson)}}}: checks each with {{{_fields(CheckJson)}}}. "
    + _ERROR_HELP,
)
def check(ctx: typer.Context, file: RulebookArgument = None, format: FormatOption = OutputFormat.TEXT) -> None:
    with _errors_as(format):
        rulebook = _rulebook(ctx, file)
    if format is OutputFormat.JSON:
        checks = [CheckJson(id=rule.id, title=rule.title, kind=rule.kind, deduction=rule.deduction,
                            severity=rule.severity, veto=rule.veto, line=rule.line) for rule in rulebook.rules]
        typer.echo(RulebookJson(rulebook=rulebook.source, name=rulebook.name, version=rulebook.version,
                                content_hash=rulebook.content_hash, checks=checks).model_dump_json(indent=2))
        return
    stdout.print(f"{rulebook.source}: ok · {rulebook.name} v{rulebook.version} · {len(rulebook.rules)} checks",
                 highlight=False, markup=False)
    for rule in rulebook.rules:
        veto = " · veto" if rule.veto else ""
        cost = f"−{rule.deduction:g}" if rule.deduction or rule.veto else "observation (−0)"
        stdout.print(f"  {rule.id:<20} {rule.kind:<20} {cost}{veto}  {rule.title}", highlight=False)
    stdout.print(f"content hash {rulebook.content_hash}", highlight=False)


@app.command(
    "test",
    help="Show which rule phrases a sentence matches, how (exact / char / pinyin) and how well; which phrases "
    "heard do not count and why (a polite request, an offer of help, out of place in the clause); and how a "
    "meaning model reads each sentence (raised for a monitor or not).\n\n"
    f"--format json prints {{{_fields(SentenceJson)}}}: matches (best first) each with "
    f"{{{_fields(PhraseMatch)}}}, near_misses (closest first) each with {{{_fields(NearMiss)}}}, "
    f"taken_back each with {{{_fields(TakenBackPhrase)}}}, readings each with {{{_fields(SentenceReading)}}}. "
    + _ERROR_HELP,
)
def test(
    ctx: typer.Context,
    file: RulebookArgument = None,
    text: Annotated[str, typer.Option("--text", help="A sentence as ASR heard it.")] = ...,  # type: ignore[assignment]
    role: Annotated[Role, typer.Option("--role", help="Who says it.")] = Role.AGENT,
    format: FormatOption = OutputFormat.TEXT,
) -> None:
    with _errors_as(format):
        rulebook = _rulebook(ctx, file)
    result = explain(rulebook, text, role)
    if format is OutputFormat.JSON:
        typer.echo(SentenceJson(rulebook=rulebook.source, content_hash=rulebook.content_hash, text=result.text,
                                role=result.role, threshold=result.threshold, matches=list(result.matches),
                                near_misses=list(result.near_misses), taken_back=list(result.taken_back),
                                readings=list(result.readings)).model_dump_json(indent=2))
        return
    if not result.matches:
        stdout.print(f"no rule phrase matches “{text}”", highlight=False, markup=False)
    else:
        _print_matches(result)
    for near in result.near_misses:
        stdout.print(
            f"near miss: {near.rule_id}/{near.phrase_list} {near.phrase} ({near.score:.2f} < {result.threshold:.2f})",
            highlight=False, markup=False,
        )
    for back in result.taken_back:
        stdout.print(f"taken back: {back.rule_id}/{back.phrase_list} {back.phrase} (heard “{back.quote}”): {back.why}",
                     highlight=False, markup=False)
    for reading in result.readings:
        if reading.raised:
            verdict = "raised for a monitor (uncertain)" if reading.counts else "not this speaker's rule"
        else:  # at the threshold yet not raised: a listed phrase in the sentence is the finding
            verdict = "a listed phrase is in it" if reading.probability >= reading.threshold else "not raised"
        stdout.print(f"meaning: {reading.rule_id}/{reading.model} “{reading.sentence}” {reading.probability:.2f} "
                     f"{'≥' if reading.probability >= reading.threshold else '<'} {reading.threshold:.2f}: {verdict}",
                     highlight=False, markup=False)


@app.command("versions")
def versions(ctx: typer.Context, db: DbOption = None) -> None:
    """List the rulebook versions published (newest first, the first is in force): number, who, when, comment, hash."""
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.session() as session:
        published = list_versions(session)
    if not published:
        stdout.print(f"no version published: the rulebook in force is the file {settings.rules}", highlight=False,
                     markup=False)
        return
    rows = table("version", "published by", "at (UTC)", "comment", "content hash")
    for info in published:
        rows.add_row(Text(str(info.number)), Text(info.published_by), Text(f"{info.published_at:%Y-%m-%d %H:%M}"),
                     Text(info.comment), Text(info.content_hash[:12]))
    stdout.print(rows)


@app.command("show")
def show(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="The version number (qcpipe rules versions lists them).")],
    db: DbOption = None,
) -> None:
    """Print a published rulebook version's YAML (to edit, or to pass back with --rules)."""
    settings = settings_of(ctx, db_url=db)
    with open_store(settings) as store, store.session() as session:
        version = get_version(session, number)
    typer.echo(version.yaml, nl=not version.yaml.endswith("\n"))


@app.command("default")
def default() -> None:
    """Print the shipped rulebook, to start a center's own: qcpipe rules default > rules.yaml."""
    typer.echo(DEFAULT_RULEBOOK.read_text(encoding="utf-8"), nl=False)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a rulebook file, for editors and the web rule editor."""
    typer.echo(json.dumps(rulebook_json_schema(), ensure_ascii=False, indent=2))


# The narrowest a column of Chinese phrases is folded to (three characters): narrower, a phrase
# can no longer be read at a glance, and the matches are listed one below the other instead.
_PHRASE_MIN_WIDTH = 6


def _print_matches(result: Explanation) -> None:
    """A table of the matches where the terminal is wide enough for the rule ids, list names,
    ways and scores on one line each (only the phrases fold); else one match per block. An id
    broken over lines cannot be searched for or pasted into the rulebook."""
    counts_header = f"counts for {result.role}"
    rows = [(m.rule_id, m.phrase_list, m.wording, m.quote, m.match_kind.value, f"{m.score:.2f}",
             "yes" if m.counts else f"no ({m.listens_to} only)") for m in result.matches]
    headers = ("rule", "list", "phrase", "heard", "how", "score", counts_header)
    kept_whole = (0, 1, 4, 5)  # rule, list, how, score
    folded = len(headers) - len(kept_whole)
    whole_width = sum(max(cell_len(headers[i]), *(cell_len(row[i]) for row in rows)) for i in kept_whole)
    needed = whole_width + folded * _PHRASE_MIN_WIDTH + 3 * len(headers) + 1  # + padding and borders
    if stdout.width >= needed:
        table = Table(*(Column(header, no_wrap=True) if i in kept_whole else Column(header, overflow="fold")
                        for i, header in enumerate(headers)))
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))  # a phrase is text, never markup
        stdout.print(table)
        return
    for rule_id, phrase_list, wording, quote, how, score, counts in rows:
        stdout.print(rule_id, soft_wrap=True, highlight=False, markup=False, style="bold")
        stdout.print(f"  {phrase_list} · {how} {score} · {counts_header}: {counts}", highlight=False, markup=False)
        stdout.print(f"  phrase {wording} · heard {quote}", highlight=False, markup=False)
