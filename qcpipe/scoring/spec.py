"""The rulebook's building blocks: typed values, the pydantic models that read them, and errors
that name the YAML line.

A rulebook file is validated by pydantic models: `CheckSpec` (the fields every check has) and
each kind's subclass next to its class in `matchers/`, and the whole file in `rulebook.py`. The
models refuse unknown keys (a typo such as `dedcution:` is an error, not a silent default) and
give the file's JSON Schema. The YAML is read with line numbers kept, so `rulebook_error` can
turn a validation error into a `RulebookError` naming the line of the key or item at fault.
The matchers work on the typed values (`Phrase`, `Window`, `Condition`, `MatchSettings`).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Sequence, Union

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, PlainSerializer, \
    PlainValidator, StringConstraints, Tag, ValidationError, ValidationInfo, WithJsonSchema
from pydantic_core import core_schema

from qcpipe.errors import ConfigError


class RulebookError(ConfigError):
    """The rulebook YAML is invalid; the message names the file and line."""

    def __init__(self, cause: str, line: int | None = None, source: str | Path = "<rulebook>") -> None:
        self.cause = cause
        self.line = line
        self.source = str(source)
        where = f"{self.source}, line {line}" if line else self.source
        super().__init__(f"{where}: {cause}")


# --- YAML with line numbers -------------------------------------------------------------------


class LineDict(dict):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list):
    """A YAML sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry line numbers and reject duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)  # resolves YAML merge keys (<<: *anchor)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in mapping:
            raise RulebookError(f"duplicate key {key!r} (first on line {mapping.key_lines[key]})", line)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def parse_yaml(text: str) -> Any:
    """Parse YAML text into LineDict / LineList / scalars; syntax errors carry their line."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RulebookError(f"YAML syntax: {exc.problem or exc}", mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise RulebookError(f"YAML syntax: {exc}") from exc


# --- validation errors in the file's terms ----------------------------------------------------


# Keys refused in one place that belong in another: the error says where.
_MISPLACED = {"pinyin_equivalents": "it can only be set in the top-level 'matching:' "
                                    "(one pinyin coding serves the whole rulebook)"}

_SAID = {
    "string_type": "{subject} must be a non-empty string, got {shown}",
    "string_too_short": "{subject} must be a non-empty string, got {shown}",
    "bool_type": "{subject} must be true or false, got {shown}",
    "literal_error": "{subject} must be one of {choices}, got {shown}",
    "list_type": "{subject} must be a list, got {shown}",
    "dict_type": "{subject} must be a mapping, got {shown}",
    "model_type": "{subject} must be a mapping, got {shown}",
    "model_attributes_type": "{subject} must be a mapping, got {shown}",
    "too_long": "{subject} must have at most {max_length} items, got {actual_length}",
}


def rulebook_error(exc: ValidationError, top: Any) -> RulebookError:
    """The first problem of the file as a `RulebookError` naming its YAML line.

    First by line, but a missing field after any other problem: `dedcution: 5` is better
    reported as the unknown field it is than as a missing `deduction`.

    `top` is the YAML the models were given (`parse_yaml`'s result). A pydantic error's `loc`
    is followed through it to the key or item at fault; its union tags (the check's kind, "a
    list or a phrase set name" …) and missing keys are not in the YAML and are passed over.
    """
    found = [(error["type"] in ("missing", "union_tag_not_found"), *_where_and_why(error, top))
             for error in exc.errors(include_url=False)]
    _, line, cause = min(found, key=lambda item: item[:2])
    return RulebookError(cause, line)


def _where_and_why(error: dict, top: Any) -> tuple[int, str]:
    """(line, cause) of one pydantic error."""
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx") or {}
    line, node, steps = _follow(loc, top)
    path = [name for name, _ in steps]
    if kind == "union_tag_invalid":  # the check's `kind:` names no registered kind
        known = ", ".join(sorted(re.findall(r"'([^']*)'", ctx["expected_tags"])))
        return getattr(node, "key_lines", {}).get("kind", line), \
            _said(path, f"unknown kind {ctx['tag']!r} (known: {known})")
    if kind in ("missing", "union_tag_not_found"):
        return line, _said(path, f"missing field {loc[-1] if kind == 'missing' else 'kind'!r}")
    if kind == "extra_forbidden":
        hint = f": {_MISPLACED[loc[-1]]}" if loc[-1] in _MISPLACED else ""
        return line, _said(path[:-1], f"unknown field {loc[-1]!r}{hint}")
    if not steps:
        return line, f"the rulebook must be a mapping, got {_shown(error['input'])}"
    # Any other error is about the last key or item reached.
    subject = steps[-1][1]
    if kind == "value_error":  # our validators' messages say what they are about
        cause = str(ctx["error"])
    elif kind == "too_short":
        cause = f"{subject} must not be empty" if ctx["min_length"] == 1 else \
            f"{subject} must have at least {ctx['min_length']} items, got {ctx['actual_length']}"
    else:
        choices = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        cause = _SAID.get(kind, "{subject}: {msg}").format(subject=subject, shown=_shown(error["input"]),
                                                          choices=choices, msg=error["msg"], **ctx)
    return line, _said(path[:-1], cause)


def _follow(loc: tuple, top: Any) -> tuple[int, Any, list[tuple[str, str]]]:
    """Follow an error's `loc` through the YAML: the line and node reached, and the steps taken,
    each as (its name in a path, its name as the subject of a sentence)."""
    node, line = top, getattr(top, "line", 1) or 1
    steps: list[tuple[str, str]] = []
    for step in loc:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            line = getattr(node, "key_lines", {}).get(step, line)
            steps.append((step, repr(step)))
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            line = getattr(node, "item_lines", [line] * len(node))[step]
            if steps == [("checks", "'checks'")]:  # "check 'greeting'", not "checks: item 1"
                ident = node[step].get("id") if isinstance(node[step], dict) else None
                label = f"check {ident!r}" if isinstance(ident, str) else f"check {step + 1}"
                steps = [(label, label)]
            else:
                steps.append((f"item {step + 1}", f"item {step + 1}"))
        else:
            continue  # a union tag or a missing key: not in the YAML
        node = node[step]
    return line, node, steps


def _said(path: list[str], message: str) -> str:
    return f"{': '.join(path) or 'rulebook'}: {message}"


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- field types shared by the models ---------------------------------------------------------


class SpecModel(BaseModel):
    """Base of the rulebook's models: unknown keys are refused and values are not coerced
    (`veto: "yes"`, `deduction: "5"` are errors, as a person would expect of a checked file)."""

    model_config = ConfigDict(extra="forbid", strict=True)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
SpeakerRole = Annotated[Literal["agent", "customer"], Field(description="Whose speech the check searches.")]
Severity = Literal["minor", "major", "critical"]


@dataclass(frozen=True)
class Bounds:
    """A number field's range: `Annotated[float, Bounds("window", 0.1)]`.

    The range goes into the JSON Schema (minimum, maximum); a value out of range or not a
    number reads "bad window: 'seconds' must be >= 0.1, got -3" (`what` names the family).
    """

    what: str
    low: float
    high: float | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], dict]) -> core_schema.CoreSchema:
        inner = {**handler(source), "ge": self.low, **({} if self.high is None else {"le": self.high})}
        noun = "a whole number" if inner["type"] == "int" else "a number"
        bounds = f">= {self.low:g}" if self.high is None else f"between {self.low:g} and {self.high:g}"

        def checked(value: Any, validate: Callable[[Any], Any], info: core_schema.ValidationInfo) -> Any:
            try:
                return validate(value)
            except ValidationError as exc:
                out_of_range = exc.errors()[0]["type"] in ("greater_than_equal", "less_than_equal")
                must = bounds if out_of_range else f"{noun} {bounds}"
                raise ValueError(f"bad {self.what}: {info.field_name!r} must be {must}, got {value!r}") from None

        return core_schema.with_info_wrap_validator_function(checked, inner)




# --- evidence --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceSettings:
    """When a missing phrase is too poorly heard to deduct for (documented on `Evidence`)."""

    doubtful_confidence: float = 0.0
    doubtful_min_chars: int = 6
    doubtful_near_miss: float = 1.0
    near_miss_confidence: float = 1.0
    near_miss_word_probability: float = 0.0
    said_word_probability: float = 0.0


class Evidence(SpecModel):
    """When the evidence for a missing phrase, or for a forbidden one said, is too weak to
    deduct on its own: the finding is then `uncertain`, goes to the monitors marked as such, and
    deducts nothing until confirmed. A narrowband codec or a noisy line makes Whisper mishear a
    greeting the agent did say as other words; what it heard then has low word probabilities and
    often still resembles the phrase. A room's voices, heard on the agent's channel while the
    agent is silent, come out as words heard with low probabilities too."""

    doubtful_confidence: Annotated[float, Bounds("threshold", 0.0, 1.0)] = Field(
        EvidenceSettings.doubtful_confidence,
        description="A missing phrase's window heard with a mean word probability under this is doubtful "
                    "(0 = never).")
    doubtful_min_chars: Annotated[int, Bounds("threshold", 1)] = Field(
        EvidenceSettings.doubtful_min_chars,
        description="A window of fewer characters is not judged by its word probabilities: Whisper gives a "
                    "short reply (你说, 喂) low probabilities even when it heard it right.")
    doubtful_near_miss: Annotated[float, Bounds("threshold", 0.0, 1.0)] = Field(
        EvidenceSettings.doubtful_near_miss,
        description="A missing phrase whose nearest wording scored at least this (under the match threshold) "
                    "is doubtful when the window was also heard with a mean word probability under "
                    "`near_miss_confidence`: a phrase said and misheard (稍等 → 稍总) looks like this (1 = never).")
    near_miss_confidence: Annotated[float, Bounds("threshold", 0.0, 1.0)] = Field(
        EvidenceSettings.near_miss_confidence,
        description="See `doubtful_near_miss`; 1 = a near miss is doubtful however clearly it was heard.")
    near_miss_word_probability: Annotated[float, Bounds("threshold", 0.0, 1.0)] = Field(
        EvidenceSettings.near_miss_word_probability,
        description="A near miss (see `doubtful_near_miss`) is also doubtful when a word where the phrase nearly "
                    "is was heard with a probability under this, however well the rest of the window was heard: "
                    "感谢您的来电 misheard as 展现您的来便 (展 0.5, 便 0.11). Only phrases long enough to match "
                    "approximately (`min_fuzzy_chars`) have a near miss that counts (0 = never).")
    said_word_probability: Annotated[float, Bounds("threshold", 0.0, 1.0)] = Field(
        EvidenceSettings.said_word_probability,
        description="A forbidden phrase found in words heard with a mean probability under this is doubtful: "
                    "a colleague's voice behind a silent agent, heard as the agent's 有意见到 (0.42), looks like "
                    "this; the 禁语 agents said were heard at 0.61 or more on the dev calls under eight degradations (0 = never).")

    def settings(self) -> EvidenceSettings:
        return EvidenceSettings(self.doubtful_confidence, self.doubtful_min_chars, self.doubtful_near_miss,
                                self.near_miss_confidence, self.near_miss_word_probability,
                                self.said_word_probability)


# --- matching settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchSettings:
    """How close heard text must be to a phrase to count as saying it (the fields are
    documented once, on the `matching:` model `MatchOverrides` / `Matching`)."""

    char_threshold: float = 0.8
    pinyin_threshold: float = 0.8
    min_fuzzy_chars: int = 4
    pinyin_equivalents: tuple[tuple[str, str], ...] = ()
    key_chars: tuple[str, ...] = ()


Threshold = Annotated[float, Bounds("threshold", 0.01, 1.0)]


class MatchOverrides(SpecModel):
    """How close heard text must be to a phrase to count as saying it. In a check, fields left
    out keep the rulebook's `matching:`."""

    char_threshold: Threshold = Field(
        MatchSettings.char_threshold,
        description="Best normalised InDel similarity (rapidfuzz partial_ratio / 100) between the phrase and any "
                    "same-length stretch of the heard text, over characters (0.01–1).")
    pinyin_threshold: Threshold = Field(
        MatchSettings.pinyin_threshold,
        description="The same over tone-less pinyin (two symbols per character: initial and final, after folding "
                    "`pinyin_equivalents`), so a homophone costs nothing and a near-homophone (来电 → 来便) half "
                    "a character (0.01–1).")
    min_fuzzy_chars: Annotated[int, Bounds("threshold", 1)] = Field(
        MatchSettings.min_fuzzy_chars,
        description="Phrases shorter than this match only exactly or as exact homophones: one wrong character "
                    "in a 2–3 character phrase is a different word.")
    key_chars: list[Text] = Field(
        default_factory=list, min_length=1,
        description="Classes of characters that carry a phrase's meaning (pronouns, negations), each a string: a "
                    "fuzzy match must hear one of the class (or a homophone) where the phrase has one, so "
                    "这不是您的问题 does not match 这不是我的问题.")

    def applied_to(self, base: MatchSettings) -> MatchSettings:
        """`base` with the fields this mapping sets."""
        changes = {name: getattr(self, name) for name in self.model_fields_set}
        if "key_chars" in changes:
            changes["key_chars"] = tuple(self.key_chars)
        if "pinyin_equivalents" in changes:
            changes["pinyin_equivalents"] = tuple((a, b) for a, b in changes["pinyin_equivalents"])
        return replace(base, **changes)


class Matching(MatchOverrides):
    """The rulebook's `matching:` defaults (a check's own `matching:` overrides them)."""

    pinyin_equivalents: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = Field(
        default_factory=list, min_length=1,
        description="Pinyin pairs folded together before comparing ([zh, z], [an, ang] …); initials are compared "
                    "whole, finals by suffix (an/ang also folds ian/iang and uan/uang). Top level only: the "
                    "whole rulebook shares one pinyin coding.")


# --- phrases -----------------------------------------------------------------------------------


ExemptWhen = Literal["polite", "help"]
ClausePlace = Literal["any", "start", "whole"]


@dataclass(frozen=True)
class ToneRule:
    """When a phrase heard in speech does not count, judged from the clause around it.

    A clause is the stretch between two pauses the transcript marks: punctuation, a space, or
    the end of an ASR segment. The marker lists are literal wordings (alternations expanded);
    they are found in the clause's normalised characters, exactly.

    clause: where in its clause the phrase must be to count: anywhere (`any`), at its start
        (`start`: only `lead_ins` before it) or as the whole clause (`whole`: also only
        `particles` after it). 不行 is a refusal said alone, not in 不行的话我帮您换一个.
    polite: a `polite_before` marker earlier in the clause (请, 麻烦) or a `polite_after` one
        later (好吗, 可以吗) makes it a request, not an order: 请您说大点声好吗 is not 大点声.
    help: a `help_after` wording later in the clause or in the next `help_clauses` clauses
        (我帮您查一下) makes it an honest answer: 我不清楚，我帮您问一下 is not 我不清楚.
    """

    clause: ClausePlace = "any"
    polite: bool = False
    help: bool = False
    polite_before: tuple[str, ...] = ()
    polite_after: tuple[str, ...] = ()
    help_after: tuple[str, ...] = ()
    help_clauses: int = 1
    lead_ins: tuple[str, ...] = ()
    particles: tuple[str, ...] = ()

    @property
    def judges(self) -> bool:
        """Whether the clause around a hit can change anything."""
        return self.clause != "any" or self.polite or self.help


@dataclass(frozen=True)
class Phrase:
    """One rulebook phrase and the wordings that count as saying it.

    text: the canonical wording (what a finding names). variants: every wording matched,
        `text` first, with `(a|b)` / `(a)?` alternations already expanded.
    veto: saying (or missing) it zeroes the call. unless_within: longer wordings inside which
        a hit does not count (e.g. 不好意思 inside 不好意思我是新手).
    tone: when the clause around a hit takes it back (a polite request, an offer of help, a
        word inside a longer sentence); None: never.
    """

    text: str
    variants: tuple[str, ...]
    veto: bool = False
    unless_within: tuple[str, ...] = ()
    tone: ToneRule | None = None


# A gap in a wording: "你…都不会" is 你, then 都不会 a few characters on, in one clause
# (matching.GAP_CHARS). Written … or ... in the YAML.
GAP = "…"
_ALTERNATION = re.compile(r"\(([^()]*)\)(\?)?")
MAX_VARIANTS_PER_PATTERN = 64


def expand_pattern(pattern: str) -> list[str]:
    """Expand `(a|b)` and optional `(a)?` groups into literal wordings (no nesting).

    "(跟|和)我(没|没有)关系" → 跟我没关系, 跟我没有关系, 和我没关系, 和我没有关系.
    """
    match = _ALTERNATION.search(pattern)
    if not match:
        return [pattern]
    options = match.group(1).split("|") + ([""] if match.group(2) else [])
    head, tail = pattern[: match.start()], pattern[match.end():]
    return [head + option + rest for option in options for rest in expand_pattern(tail)]


def _wordings(pattern: str) -> list[str]:
    return [wording for wording in expand_pattern(pattern) if wording]


def _checked_pattern(pattern: str) -> str:
    pattern = pattern.strip().replace("...", GAP)
    if not pattern:
        raise ValueError("phrase must be a non-empty string, got ''")
    if pattern.count("(") != pattern.count(")") or re.search(r"\([^)]*\(", pattern):
        raise ValueError(f"bad pattern {pattern!r}: groups are (a|b) or (a)?, not nested")
    if any(w.startswith(GAP) or w.endswith(GAP) or GAP + GAP in w for w in _wordings(pattern)):
        raise ValueError(f"bad pattern {pattern!r}: a gap {GAP} stands between two wordings in each expansion")
    count = len(_wordings(pattern))
    if not 1 <= count <= MAX_VARIANTS_PER_PATTERN:
        raise ValueError(f"pattern {pattern!r} expands to {count} wordings (1 to {MAX_VARIANTS_PER_PATTERN} allowed)")
    return pattern


Pattern = Annotated[str, AfterValidator(_checked_pattern), Field(
    description="A wording: `(a|b)` is an alternation, `(a)?` an optional part, not nested "
                f"(at most {MAX_VARIANTS_PER_PATTERN} wordings).")]


class PhraseSpec(SpecModel):
    """A phrase with more than one wording, a veto of its own, or wordings it does not count inside."""

    phrase: Pattern = Field(description="The canonical wording, what a finding names (a pattern).")
    variants: list[Pattern] | None = Field(None, description="Other wordings (patterns) that count as saying it.")
    veto: bool = Field(False, description="Saying (or missing) it zeroes the call (一票否决). In forbidden_phrases "
                                          "the check's `veto` is the default.")
    unless_within: list[Pattern] | None = Field(None, description="Longer wordings inside which a hit does not "
                                                                  "count (不好意思 inside 不好意思我是新手).")

    def value(self, default_veto: bool = False) -> Phrase:
        head = _wordings(self.phrase)
        variants = head + [w for pattern in self.variants or () for w in _wordings(pattern)]
        unless = [w for pattern in self.unless_within or () for w in _wordings(pattern)]
        return Phrase(text=head[0], variants=tuple(dict.fromkeys(variants)),
                      veto=self.veto if "veto" in self.model_fields_set else default_veto,
                      unless_within=tuple(unless))


# --- tone: when the clause around a hit takes it back --------------------------------------------


Markers = Annotated[list[Pattern], Field(description="Wordings (patterns), found exactly in the clause's characters.")]


class ToneSpec(SpecModel):
    """How the clause around a hit is read: the markers of a polite request and of an offer of
    help, and the defaults of the check's phrases (each phrase's `exempt_when` / `clause`
    overrides them). Many 禁语 are blunt forms of polite wordings: 大点声 / 请您说大点声好吗,
    我不清楚 / 我不清楚，我帮您问一下, 不行 / 不行的话我帮您换一个."""

    polite_before: Markers = Field(default_factory=list, description=(
        "Wordings that make what follows them in the same clause a request (请, 麻烦, 能否): a phrase "
        "exempt when `polite` does not count after one."))
    polite_after: Markers = Field(default_factory=list, description=(
        "Question tags that make what precedes them in the same clause a request (好吗, 可以吗): a phrase "
        "exempt when `polite` does not count before one."))
    help_after: Markers = Field(default_factory=list, description=(
        "Offers of help (我帮您查一下, 为您核实): a phrase exempt when `help` does not count when one follows "
        "it in its clause or the next `help_clauses` clauses."))
    help_clauses: Annotated[int, Bounds("tone", 0, 5)] = Field(
        ToneRule.help_clauses, description="How many clauses after the phrase's own an offer of help may come in.")
    lead_ins: Markers = Field(default_factory=list, description=(
        "What may come before a phrase that must start its clause (`clause: start` / `whole`): 喂, 哎, 唉."))
    particles: Markers = Field(default_factory=list, description=(
        "What may come after a phrase that must be its whole clause (`clause: whole`): 啊, 吧, 了."))
    exempt_when: list[ExemptWhen] = Field(default_factory=list, description=(
        "The default of the check's phrases: `polite` (a polite request) and/or `help` (an offer of help "
        "follows) take a hit back."))
    clause: ClausePlace = Field(ToneRule.clause, description=(
        "The default of the check's phrases: where in its clause a phrase must be to count: `any`, "
        "`start` (only lead-ins before it), `whole` (only lead-ins before, particles after)."))

    def rule(self, exempt_when: Sequence[str] | None = None, clause: str | None = None) -> ToneRule | None:
        """The tone of a phrase with these settings (None: the check's defaults); None if it judges nothing."""
        exempt = set(self.exempt_when if exempt_when is None else exempt_when)
        rule = ToneRule(clause=clause or self.clause, polite="polite" in exempt, help="help" in exempt,
                        polite_before=_expanded(self.polite_before), polite_after=_expanded(self.polite_after),
                        help_after=_expanded(self.help_after), help_clauses=self.help_clauses,
                        lead_ins=_expanded(self.lead_ins), particles=_expanded(self.particles))
        return rule if rule.judges else None

    def missing_markers(self, exempt_when: Sequence[str]) -> list[str]:
        """The marker lists an `exempt_when` needs that this tone leaves empty."""
        needs = {"polite": ("polite_before", "polite_after"), "help": ("help_after",)}
        return [" or ".join(needs[e]) for e in exempt_when if not any(getattr(self, f) for f in needs[e])]


def _expanded(patterns: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w for pattern in patterns for w in _wordings(pattern)))


class TonedPhraseSpec(PhraseSpec):
    """A phrase of a check that reads the clause around a hit (`tone:`): it may set its own
    exemptions and place, overriding the check's defaults."""

    exempt_when: list[ExemptWhen] | None = Field(None, description=(
        "What takes a hit back: `polite` (a polite_before marker earlier in the clause, or a polite_after "
        "tag later), `help` (an offer of help follows); [] = nothing. Left out: the check's `tone.exempt_when`."))
    clause: ClausePlace | None = Field(None, description=(
        "Where in its clause the phrase must be to count: `any`, `start`, `whole`. Left out: the check's "
        "`tone.clause`."))

    def value(self, default_veto: bool = False, tone: ToneSpec | None = None) -> Phrase:
        phrase = super().value(default_veto)
        return replace(phrase, tone=(tone or ToneSpec()).rule(self.exempt_when, self.clause))


def to_phrases(items: Sequence[str | PhraseSpec], default_veto: bool = False,
               tone: ToneSpec | None = None) -> tuple[Phrase, ...]:
    """The typed phrases of a validated phrase list (a string item is a pattern); `tone` gives
    each phrase that does not set its own the check's defaults."""
    phrases = []
    for item in items:
        if isinstance(item, TonedPhraseSpec):
            phrases.append(item.value(default_veto, tone))
            continue
        spec = item if isinstance(item, PhraseSpec) else PhraseSpec.model_construct(phrase=item)
        phrase = spec.value(default_veto)
        phrases.append(replace(phrase, tone=tone.rule()) if tone is not None else phrase)
    return tuple(phrases)


def _known_set(name: str, info: ValidationInfo) -> str:
    known = (info.context or {}).get("phrase_sets")
    if known is not None and name not in known:
        raise ValueError(f"unknown phrase set {name!r} (known: {', '.join(known) or 'none'})")
    return name


# Union members are chosen by the YAML value's type, so an error speaks of the member meant
# (the tags are left out of error messages).
PhraseItem = Annotated[
    Union[Annotated[Pattern, Tag("wording")], Annotated[PhraseSpec, Tag("phrase mapping")]],
    Discriminator(lambda value: "phrase mapping" if isinstance(value, (dict, PhraseSpec)) else "wording"),
]
Phrases = Annotated[list[PhraseItem], Field(min_length=1)]
# A phrase list, or the name of a top-level `phrase_sets:` entry (checked against the names
# given in the validation context, as `phrase_sets`).
PhraseList = Annotated[
    Union[Annotated[str, AfterValidator(_known_set), Field(description="The name of a `phrase_sets:` entry."),
                    Tag("phrase set name")],
          Annotated[Phrases, Tag("phrase list")]],
    Discriminator(lambda value: "phrase set name" if isinstance(value, str) else "phrase list"),
]
# The phrase list of a check that reads the tone of a hit: its phrases may set `exempt_when` and `clause`.
TonedPhraseItem = Annotated[
    Union[Annotated[Pattern, Tag("wording")], Annotated[TonedPhraseSpec, Tag("phrase mapping")]],
    Discriminator(lambda value: "phrase mapping" if isinstance(value, (dict, PhraseSpec)) else "wording"),
]
TonedPhraseList = Annotated[
    Union[Annotated[str, AfterValidator(_known_set), Field(description="The name of a `phrase_sets:` entry."),
                    Tag("phrase set name")],
          Annotated[Annotated[list[TonedPhraseItem], Field(min_length=1)], Tag("phrase list")]],
    Discriminator(lambda value: "phrase set name" if isinstance(value, str) else "phrase list"),
]


# --- window and condition ----------------------------------------------------------------------


class Window(SpecModel):
    """Where in the call a rule looks for the role's speech."""

    model_config = ConfigDict(frozen=True)

    anchor: Literal["start", "end"] = Field(alias="from", description="start: from the role's first speech "
                                                                      "onward; end: back from its last speech.")
    seconds: Annotated[float, Bounds("window", 0.1)] = Field(
        description="How far from the anchor, in seconds (segments starting, resp. ending, inside count).")
    turns: Annotated[int, Bounds("window", 1)] | None = Field(
        None, description="At most this many of the role's turns from the anchor (a turn ends when the other "
                          "party says something); left out = no limit.")


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}
CONDITION_FIELDS = ("queue_wait_s", "duration_s")
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Condition:
    """`<call field> <op> <number>`, e.g. `queue_wait_s > 30`: the rule applies only when true."""

    field: str
    op: str
    value: float

    def holds(self, actual: float) -> bool:
        return _OPERATORS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value:g}"

    @classmethod
    def parse(cls, text: Any) -> Condition:
        match = _CONDITION.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"bad condition {text!r}: expected '<field> <op> <number>', e.g. 'queue_wait_s > 30'")
        name, op, value = match.groups()
        if name not in CONDITION_FIELDS:
            raise ValueError(f"bad condition {text!r}: unknown field {name!r} (known: {', '.join(CONDITION_FIELDS)})")
        return cls(field=name, op=op, value=float(value))


ConditionText = Annotated[
    Condition,
    PlainValidator(Condition.parse),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["queue_wait_s > 30"],
                    "pattern": rf"^\s*({'|'.join(CONDITION_FIELDS)})\s*(>=|<=|==|!=|>|<)\s*-?\d+(\.\d+)?\s*$"}),
]


# --- what every check has ----------------------------------------------------------------------


class CheckSpec(SpecModel):
    """The fields every check has; each rule kind (`matchers/`) adds its own and fixes `kind`."""

    id: Text = Field(description="The check's fixed id: labels, findings and reports use it.")
    title: Text = Field(description="What reports call the check (标准开场白).")
    kind: str = Field(description="The rule kind.")
    deduction: Annotated[float, Bounds("deduction", 0, 100)] = Field(description="Points off the call per hit.")
    severity: Severity = Field(description="How reports rank a hit.")
    veto: bool = Field(False, description="A hit zeroes the call (一票否决).")
    condition: ConditionText | None = Field(
        None, description="The check applies only to calls where `<field> <op> <number>` holds "
                          f"(fields: {', '.join(CONDITION_FIELDS)}).")
    matching: MatchOverrides | None = Field(None, description="This check's own thresholds.")
