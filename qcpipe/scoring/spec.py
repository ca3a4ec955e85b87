"""The rulebook's building blocks as typed values, read from YAML with line numbers kept.

Every reader here raises `RulebookError` naming the YAML line, so a quality team editing the
file sees where it is wrong. The rule kinds (`matchers/`) read their own fields with `Fields`.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

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


# --- reading fields ----------------------------------------------------------------------------


_MISSING = object()


class Fields:
    """Reads the fields of one YAML mapping, with errors that point at the right line.

    `done()` rejects keys nobody read, so a typo (`dedcution:`) is an error, not a silent default.
    """

    def __init__(self, mapping: Any, what: str, line: int | None = None) -> None:
        if not isinstance(mapping, dict):
            raise RulebookError(f"{what} must be a mapping, got {type(mapping).__name__}", line)
        self.mapping = mapping
        self.what = what
        self.line = getattr(mapping, "line", line)
        self._read: set[str] = set()

    def line_of(self, key: str) -> int | None:
        return getattr(self.mapping, "key_lines", {}).get(key, self.line)

    def error(self, key: str | None, cause: str) -> RulebookError:
        return RulebookError(f"{self.what}: {cause}", self.line_of(key) if key else self.line)

    def has(self, key: str) -> bool:
        return key in self.mapping

    def get(self, key: str, default: Any = _MISSING) -> Any:
        self._read.add(key)
        if key in self.mapping:
            return self.mapping[key]
        if default is _MISSING:
            raise self.error(None, f"missing field {key!r}")
        return default

    def text(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"{key!r} must be a non-empty string")
        return value.strip()

    def number(self, key: str, default: Any = _MISSING, low: float | None = None,
               high: float | None = None, what: str = "number") -> Any:
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"bad {what}: {key!r} must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise self.error(key, f"bad {what}: {key!r} must be {bounds}, got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"{key!r} must be true or false, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        if value not in choices:
            raise self.error(key, f"{key!r} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def sequence(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or not value:
            raise self.error(key, f"{key!r} must be a non-empty list")
        return value

    def done(self) -> None:
        unknown = [k for k in self.mapping if k not in self._read]
        if unknown:
            raise self.error(unknown[0], f"unknown field {unknown[0]!r}")


# --- shared value types ------------------------------------------------------------------------


ROLES = ("agent", "customer")
SEVERITIES = ("minor", "major", "critical")


@dataclass(frozen=True)
class MatchSettings:
    """How close heard text must be to a phrase to count as saying it.

    char_threshold: best normalised InDel similarity (rapidfuzz partial_ratio / 100) between the
        phrase and any same-length stretch of the text, over characters.
    pinyin_threshold: the same over tone-less pinyin (two symbols per character: initial and
        final, after folding the `pinyin_equivalents`), so a homophone costs nothing and a
        near-homophone (来电 → 来便) costs half a character.
    min_fuzzy_chars: phrases shorter than this match only exactly or as exact homophones;
        one wrong character in a 2–3 character phrase is a different word.
    pinyin_equivalents: pairs folded together before comparing; initials are compared whole,
        finals by suffix (an/ang also folds ian/iang and uan/uang).
    key_chars: classes of characters that carry a phrase's meaning (pronouns, negations): a
        fuzzy match must hear one of the class (or a homophone) where the phrase has one, so
        "这不是您的问题" (one character off) does not match "这不是我的问题".
    """

    char_threshold: float = 0.8
    pinyin_threshold: float = 0.8
    min_fuzzy_chars: int = 4
    pinyin_equivalents: tuple[tuple[str, str], ...] = ()
    key_chars: tuple[str, ...] = ()


def read_match_settings(raw: Any, base: MatchSettings | None, what: str, top_level: bool = True) -> MatchSettings:
    """Read a `matching:` mapping; fields left out keep the values of `base`.

    `pinyin_equivalents` only at the top level: the whole rulebook shares one pinyin coding.
    """
    base = base or MatchSettings()
    fields = Fields(raw, what)
    equivalents = base.pinyin_equivalents
    if fields.has("pinyin_equivalents") and not top_level:
        raise fields.error("pinyin_equivalents", "pinyin_equivalents can only be set in the top-level 'matching:'")
    if fields.has("pinyin_equivalents"):
        pairs = fields.sequence("pinyin_equivalents")
        if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs):
            raise fields.error("pinyin_equivalents", "pinyin_equivalents must be a list of [a, b] pairs")
        equivalents = tuple((a, b) for a, b in pairs)
    key_chars = base.key_chars
    if fields.has("key_chars"):
        classes = fields.sequence("key_chars")
        if not all(isinstance(c, str) and c.strip() for c in classes):
            raise fields.error("key_chars", "key_chars must be a list of strings (each a class of characters)")
        key_chars = tuple(c.strip() for c in classes)
    settings = MatchSettings(
        char_threshold=fields.number("char_threshold", base.char_threshold, 0.01, 1.0, "threshold"),
        pinyin_threshold=fields.number("pinyin_threshold", base.pinyin_threshold, 0.01, 1.0, "threshold"),
        min_fuzzy_chars=int(fields.number("min_fuzzy_chars", base.min_fuzzy_chars, 1, None, "threshold")),
        pinyin_equivalents=equivalents,
        key_chars=key_chars,
    )
    fields.done()
    return settings


@dataclass(frozen=True)
class Phrase:
    """One rulebook phrase and the wordings that count as saying it.

    text: the canonical wording (what a finding names). variants: every wording matched,
        `text` first, with `(a|b)` / `(a)?` alternations already expanded.
    veto: saying (or missing) it zeroes the call. unless_within: longer wordings inside which
        a hit does not count (e.g. 不好意思 inside 不好意思我是新手).
    """

    text: str
    variants: tuple[str, ...]
    veto: bool = False
    unless_within: tuple[str, ...] = ()


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


def _expand_checked(pattern: Any, fields: Fields, key: str) -> list[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise fields.error(key, f"phrase must be a non-empty string, got {pattern!r}")
    if pattern.count("(") != pattern.count(")") or re.search(r"\([^)]*\(", pattern):
        raise fields.error(key, f"bad pattern {pattern!r}: groups are (a|b) or (a)?, not nested")
    variants = [v for v in expand_pattern(pattern.strip()) if v]
    if not variants or len(variants) > MAX_VARIANTS_PER_PATTERN:
        raise fields.error(key, f"pattern {pattern!r} expands to {len(variants)} wordings "
                                f"(1 to {MAX_VARIANTS_PER_PATTERN} allowed)")
    return variants


def read_phrase(raw: Any, what: str, line: int | None, default_veto: bool = False) -> Phrase:
    """A phrase is a string (pattern) or a mapping {phrase, variants, veto, unless_within}."""
    if isinstance(raw, str):
        raw = {"phrase": raw}
    fields = Fields(raw, what, line)
    head = _expand_checked(fields.get("phrase"), fields, "phrase")
    variants = list(head)
    for pattern in fields.get("variants", []) or []:
        variants += _expand_checked(pattern, fields, "variants")
    unless: list[str] = []
    for pattern in fields.get("unless_within", []) or []:
        unless += _expand_checked(pattern, fields, "unless_within")
    phrase = Phrase(text=head[0], variants=tuple(dict.fromkeys(variants)),
                    veto=fields.flag("veto", default_veto), unless_within=tuple(unless))
    fields.done()
    return phrase


def read_phrases(raw: Any, fields: Fields, key: str, phrase_sets: dict[str, tuple[Phrase, ...]],
                 default_veto: bool = False) -> tuple[Phrase, ...]:
    """A phrase list, or the name of a top-level `phrase_sets:` entry."""
    if isinstance(raw, str) and raw in phrase_sets:
        return phrase_sets[raw]
    if isinstance(raw, str):
        raise fields.error(key, f"unknown phrase set {raw!r} (known: {', '.join(phrase_sets) or 'none'})")
    if not isinstance(raw, list) or not raw:
        raise fields.error(key, f"{key!r} must be a non-empty list of phrases or a phrase set name")
    lines = getattr(raw, "item_lines", [fields.line_of(key)] * len(raw))
    return tuple(read_phrase(item, f"{fields.what}, phrase", line, default_veto)
                 for item, line in zip(raw, lines))


@dataclass(frozen=True)
class Window:
    """Where in the call a rule looks for the role's speech.

    anchor: "start" = from the role's first speech onward; "end" = back from its last speech.
    seconds: how far from the anchor (segments starting, resp. ending, inside count).
    turns: at most this many of the role's turns from the anchor (a turn ends when the other
        party says something); None = no limit.
    """

    anchor: str
    seconds: float
    turns: int | None = None


def read_window(raw: Any, what: str, line: int | None) -> Window:
    fields = Fields(raw, f"{what}: window", line)
    anchor = fields.choice("from", ("start", "end"))
    seconds = fields.number("seconds", low=0.1, what="window")
    turns = fields.get("turns", None)
    if turns is not None and (isinstance(turns, bool) or not isinstance(turns, int) or turns < 1):
        raise fields.error("turns", f"bad window: 'turns' must be a whole number >= 1, got {turns!r}")
    fields.done()
    return Window(anchor=anchor, seconds=seconds, turns=turns)


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


def read_condition(raw: Any, fields: Fields, key: str) -> Condition:
    match = _CONDITION.match(raw) if isinstance(raw, str) else None
    if not match:
        raise fields.error(key, f"bad condition {raw!r}: expected '<field> <op> <number>', "
                                f"e.g. 'queue_wait_s > 30'")
    name, op, value = match.groups()
    if name not in CONDITION_FIELDS:
        raise fields.error(key, f"bad condition {raw!r}: unknown field {name!r} "
                                f"(known: {', '.join(CONDITION_FIELDS)})")
    return Condition(field=name, op=op, value=float(value))
