"""The rulebook: a call center's QA checks, loaded from YAML and validated with line numbers.

A rulebook file has `version`, `name`, `matching:` defaults, optional named `phrase_sets:` and
`checks:`, a list of rules. Every rule has the common fields below plus its kind's own fields
(see `matchers/`). Adding a phrase or a rule of an existing kind is an edit of the file only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcpipe.scoring.matchers import KINDS, ParseContext, RuleKind
from qcpipe.scoring.normalize import PinyinCoder
from qcpipe.scoring.spec import SEVERITIES, Condition, Fields, MatchSettings, Phrase, RulebookError, \
    parse_yaml, read_condition, read_match_settings, read_phrases


@dataclass(frozen=True)
class Rule:
    """One check: what it costs and the kind instance that finds it.

    deduction: points off the call per hit. veto: a hit zeroes the call (forbidden phrases can
    also set it per phrase). condition: the rule applies only to calls where it holds.
    """

    id: str
    title: str
    kind: str
    deduction: float
    severity: str
    veto: bool
    condition: Condition | None
    matcher: RuleKind
    line: int


@dataclass(frozen=True)
class Rulebook:
    """A validated rulebook. `content_hash` (sha256 of the file) is recorded on every finding."""

    name: str
    version: str
    matching: MatchSettings
    rules: tuple[Rule, ...]
    content_hash: str
    source: str
    coder: PinyinCoder = field(repr=False, compare=False, default_factory=PinyinCoder)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)


DEFAULT_RULEBOOK = Path(__file__).resolve().parents[2] / "configs" / "rules" / "default.yaml"


def load_rulebook(path: str | Path = DEFAULT_RULEBOOK) -> Rulebook:
    """Read and validate a rulebook file; `RulebookError` names the file and line of a problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulebookError(f"cannot read rulebook: {exc.strerror}", source=path) from exc
    return parse_rulebook(data, source=str(path))


def parse_rulebook(data: bytes | str, source: str = "<rulebook>") -> Rulebook:
    """Validate rulebook YAML given as bytes or text (`source` names it in errors)."""
    raw_bytes = data.encode("utf-8") if isinstance(data, str) else data
    try:
        return _build(parse_yaml(raw_bytes.decode("utf-8")), hashlib.sha256(raw_bytes).hexdigest(), source)
    except UnicodeDecodeError as exc:
        raise RulebookError(f"not UTF-8 text: {exc.reason}", source=source) from exc
    except RulebookError as exc:
        if exc.source != source:
            raise RulebookError(exc.cause, exc.line, source) from exc
        raise


def _build(top: Any, content_hash: str, source: str) -> Rulebook:
    fields = Fields(top, "rulebook", 1)
    version = str(fields.get("version"))
    name = fields.text("name")
    matching = read_match_settings(fields.get("matching", {}) or {}, None, "matching")
    context = ParseContext(phrase_sets=_phrase_sets(fields), matching=matching)
    checks = fields.sequence("checks")
    lines = getattr(checks, "item_lines", [fields.line_of("checks")] * len(checks))
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for raw, line in zip(checks, lines):
        rule = _rule(raw, line, context)
        if rule.id in seen:
            raise RulebookError(f"duplicate id {rule.id!r} (first on line {seen[rule.id]})", rule.line, source)
        seen[rule.id] = rule.line
        rules.append(rule)
    fields.done()
    return Rulebook(name=name, version=version, matching=matching, rules=tuple(rules),
                    content_hash=content_hash, source=source, coder=context.coder)


def _phrase_sets(fields: Fields) -> dict[str, tuple[Phrase, ...]]:
    raw = fields.get("phrase_sets", {}) or {}
    sets_fields = Fields(raw, "phrase_sets", fields.line_of("phrase_sets"))
    sets = {str(name): read_phrases(sets_fields.get(name), sets_fields, name, {}) for name in list(raw)}
    sets_fields.done()
    return sets


def _rule(raw: Any, line: int, context: ParseContext) -> Rule:
    what = f"check {raw.get('id')!r}" if isinstance(raw, dict) and "id" in raw else "check"
    fields = Fields(raw, what, line)
    rule_id = fields.text("id")
    kind_name = fields.text("kind")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise fields.error("kind", f"unknown kind {kind_name!r} (known: {', '.join(sorted(KINDS))})")
    condition = read_condition(fields.get("condition"), fields, "condition") if fields.has("condition") else None
    fields.get("matching", None)  # read by the kind through ParseContext.matcher
    rule = Rule(
        id=rule_id,
        title=fields.text("title"),
        kind=kind_name,
        deduction=fields.number("deduction", low=0.0, high=100.0, what="deduction"),
        severity=fields.choice("severity", SEVERITIES),
        veto=fields.flag("veto", False),
        condition=condition,
        matcher=kind.from_yaml(fields, context),
        line=fields.line,
    )
    fields.done()
    return rule
