"""`qcpipe rules`: check a rulebook and try sentences against it before re-scoring."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qcpipe.asr.types import Role
from qcpipe.cli.common import stdout, table
from qcpipe.cli.scoring import load_rules
from qcpipe.scoring import explain

app = typer.Typer(help="Check and try out a rulebook.", no_args_is_help=True)


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="Rulebook YAML.")]) -> None:
    """Validate a rulebook; errors name the line (unknown kind, bad window, duplicate id …)."""
    rulebook = load_rules(file)
    stdout.print(f"{file}: ok · {rulebook.name} v{rulebook.version} · {len(rulebook.rules)} checks", highlight=False)
    for rule in rulebook.rules:
        veto = " · veto" if rule.veto else ""
        stdout.print(f"  {rule.id:<20} {rule.kind:<20} −{rule.deduction:g}{veto}  {rule.title}", highlight=False)
    stdout.print(f"content hash {rulebook.content_hash}", highlight=False)


@app.command("test")
def test(
    file: Annotated[Path, typer.Argument(help="Rulebook YAML.")],
    text: Annotated[str, typer.Option("--text", help="A sentence as ASR heard it.")],
    role: Annotated[Role, typer.Option("--role", help="Who says it.")] = Role.AGENT,
) -> None:
    """Show which rule phrases a sentence matches, how (exact / char / pinyin) and how well."""
    rulebook = load_rules(file)
    matches, misses = explain(rulebook, text, role)
    if not matches:
        stdout.print(f"no rule phrase matches “{text}”", highlight=False)
    else:
        rows = table("rule", "list", "phrase", "heard", "how", "score", f"counts for {role}")
        for m in matches:
            counts = "yes" if m.counts else f"no ({m.listens_to} only)"
            rows.add_row(m.rule_id, m.phrase_list, m.wording, m.quote, m.match_kind.value, f"{m.score:.2f}", counts)
        stdout.print(rows)
    threshold = min(rulebook.matching.char_threshold, rulebook.matching.pinyin_threshold)
    close = [n for n in misses if n.score >= threshold - 0.15]
    for near in close[:5]:
        stdout.print(
            f"near miss: {near.rule_id}/{near.phrase_list} {near.phrase} ({near.score:.2f} < {threshold:.2f})", highlight=False
        )
