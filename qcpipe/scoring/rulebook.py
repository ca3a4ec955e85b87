"""The rulebook: a call center's QA checks, loaded from YAML and validated with line numbers.

A rulebook file has `version`, `name`, `matching:` defaults, optional named `phrase_sets:` and
`checks:`, a list of rules. Every rule has the common fields (`spec.CheckSpec`) plus its kind's
own fields (see `matchers/`), validated by pydantic models that also give the file's JSON Schema
(`rulebook_json_schema`). Adding a phrase or a rule of an existing kind is an edit of the file only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import ConfigDict, Field, ValidationError

from qcpipe.asr.types import Role
from qcpipe.configs import default_rulebook
from qcpipe.scoring.matchers import KINDS, ParseContext, RuleKind
from qcpipe.scoring.normalize import PinyinCoder
from qcpipe.scoring.spec import Condition, Evidence, EvidenceSettings, Matching, MatchSettings, Phrases, RulebookError, SpecModel, Text, \
    parse_yaml, rulebook_error, to_phrases


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
    evidence: EvidenceSettings = EvidenceSettings()
    coder: PinyinCoder = field(repr=False, compare=False, default_factory=PinyinCoder)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def script_phrases(self, min_chars: int = 2) -> tuple[str, ...]:
        """The wordings (normalised, `min_chars` or longer) of the lines the agent is to say:
        the phrase lists of every check but 禁语. ASR reads a stretch that sounds like one
        again against the audio, and takes one from a second hearing of a channel with a room
        (`AsrOptions.script_phrases`)."""
        found = {wording for rule in self.rules if rule.matcher.script
                 for role, matcher in rule.matcher.phrase_lists().values() if role is Role.AGENT
                 for wording in matcher.wordings() if len(wording) >= min_chars}
        return tuple(sorted(found))

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    @property
    def scored_rule_ids(self) -> tuple[str, ...]:
        """The checks that can cost points, in rulebook order: what compliance is reported for.
        An observation (`deduction: 0`, no veto) is shown with its call, never as a rate kept."""
        return tuple(rule.id for rule in self.rules if rule.deduction > 0 or rule.veto)

    @property
    def titles(self) -> dict[str, str]:
        """Each check's title (标准开场白 …) by id, in rulebook order: how reports name the checks."""
        return {rule.id: rule.title for rule in self.rules}


# A check is the model of the kind its `kind:` names (a discriminated union over the registered kinds).
AnyCheck = Annotated[Union[tuple(kind.spec for kind in KINDS.values())], Field(discriminator="kind")]


class RulebookSpec(SpecModel):
    """A qcpipe rulebook: a call center's QA checks, the phrases they listen for and how closely."""

    model_config = ConfigDict(title="qcpipe rulebook")

    version: Union[str, int, float] = Field(description="The rulebook's version, shown with its scores.")
    name: Text = Field(description="The rulebook's name.")
    matching: Matching | None = Field(None, description="How close heard text must be to a phrase, for every "
                                                        "check (a check's own `matching:` overrides it).")
    evidence: Evidence | None = Field(None, description="When a missing phrase is too poorly heard to deduct "
                                                        "for (the finding is uncertain until a monitor rules).")
    phrase_sets: dict[str, Phrases] | None = Field(
        None, description="Named phrase lists; a check's phrase list may be one of these names.")
    checks: Annotated[list[AnyCheck], Field(min_length=1)] = Field(
        description="The checks; each has the common fields and those of its `kind`.")


def rulebook_json_schema() -> dict:
    """The JSON Schema of a rulebook file, so editors and the web rule editor validate and complete it.

    It carries every rule of the models but those that take code: that a phrase set named exists,
    that ids are unique, and that patterns are well formed (`qcpipe rules check` says those too).
    """
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **RulebookSpec.model_json_schema()}


DEFAULT_RULEBOOK = default_rulebook()  # shipped inside the package (qcpipe/configs)


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
    try:
        spec = RulebookSpec.model_validate(top, context={"phrase_sets": _phrase_set_names(top)})
    except ValidationError as exc:
        raise rulebook_error(exc, top) from None
    matching = spec.matching.applied_to(MatchSettings()) if spec.matching else MatchSettings()
    phrase_sets = {name: to_phrases(items) for name, items in (spec.phrase_sets or {}).items()}
    context = ParseContext(phrase_sets=phrase_sets, matching=matching)
    lines = getattr(top["checks"], "item_lines", [getattr(top, "line", None)] * len(spec.checks))
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for check, line in zip(spec.checks, lines):
        if check.id in seen:
            raise RulebookError(f"duplicate id {check.id!r} (first on line {seen[check.id]})", line, source)
        seen[check.id] = line
        rules.append(Rule(id=check.id, title=check.title, kind=check.kind, deduction=check.deduction,
                          severity=check.severity, veto=check.veto, condition=check.condition,
                          matcher=KINDS[check.kind].from_spec(check, context), line=line))
    return Rulebook(name=spec.name, version=str(spec.version), matching=matching, rules=tuple(rules),
                    content_hash=content_hash, source=source, coder=context.coder,
                    evidence=spec.evidence.settings() if spec.evidence else EvidenceSettings())


def _phrase_set_names(top: Any) -> list[str]:
    """The names checks may use as a phrase list (validation refuses any other)."""
    sets = top.get("phrase_sets") if isinstance(top, dict) else None
    return [name for name in sets if isinstance(name, str)] if isinstance(sets, dict) else []
