"""`qcpipe rules`: check a rulebook and try sentences against it before re-scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from qcpipe.asr.types import Role
from qcpipe.cli.common import settings_of, stdout, table
from qcpipe.scoring import DEFAULT_RULEBOOK, Rulebook, explain, load_rulebook, rulebook_json_schema

app = typer.Typer(help="Check and try out a rulebook.", no_args_is_help=True)


RulebookArgument = Annotated[
    Path | None, typer.Argument(help="Rulebook YAML (default: the active one: --rules of the config, else the shipped one).")
]


def _rulebook(ctx: typer.Context, file: Path | None) -> Rulebook:
    return load_rulebook(file or settings_of(ctx).rules)


@app.command("check")
def check(ctx: typer.Context, file: RulebookArgument = None) -> None:
    """Validate a rulebook; errors name the line (unknown kind, bad window, duplicate id …)."""
    rulebook = _rulebook(ctx, file)
    stdout.print(f"{rulebook.source}: ok · {rulebook.name} v{rulebook.version} · {len(rulebook.rules)} checks",
                 highlight=False, markup=False)
    for rule in rulebook.rules:
        veto = " · veto" if rule.veto else ""
        stdout.print(f"  {rule.id:<20} {rule.kind:<20} −{rule.deduction:g}{veto}  {rule.title}", highlight=False)
    stdout.print(f"content hash {rulebook.content_hash}", highlight=False)


@app.command("test")
def test(
    ctx: typer.Context,
    file: RulebookArgument = None,
    text: Annotated[str, typer.Option("--text", help="A sentence as ASR heard it.")] = ...,  # type: ignore[assignment]
    role: Annotated[Role, typer.Option("--role", help="Who says it.")] = Role.AGENT,
) -> None:
    """Show which rule phrases a sentence matches, how (exact / char / pinyin) and how well."""
    result = explain(_rulebook(ctx, file), text, role)
    if not result.matches:
        stdout.print(f"no rule phrase matches “{text}”", highlight=False, markup=False)
    else:
        rows = table("rule", "list", "phrase", "heard", "how", "score", f"counts for {role}")
        for m in result.matches:
            counts = "yes" if m.counts else f"no ({m.listens_to} only)"
            rows.add_row(m.rule_id, m.phrase_list, m.wording, m.quote, m.match_kind.value, f"{m.score:.2f}", counts)
        stdout.print(rows)
    for near in result.near_misses:
        stdout.print(
            f"near miss: {near.rule_id}/{near.phrase_list} {near.phrase} ({near.score:.2f} < {result.threshold:.2f})",
            highlight=False, markup=False,
        )


@app.command("default")
def default() -> None:
    """Print the shipped rulebook, to start a center's own: qcpipe rules default > rules.yaml."""
    typer.echo(DEFAULT_RULEBOOK.read_text(encoding="utf-8"), nl=False)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a rulebook file, for editors and the web rule editor."""
    typer.echo(json.dumps(rulebook_json_schema(), ensure_ascii=False, indent=2))
