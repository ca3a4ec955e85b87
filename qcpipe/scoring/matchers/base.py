"""The contract between the engine and the rule kinds, the kind registry, and the call view.

A rule *kind* is one small class, registered by name with `@register("kind_name")`; a rule
*instance* (greeting, closing …) is a YAML entry naming its kind. The class reads the kind's own
fields from YAML once (`from_yaml`) and then checks calls (`check`), returning `Hit`s; the engine
turns hits into `Finding`s with the rule's deduction, severity and the rulebook hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence

from qcpipe.asr.types import Role
from qcpipe.scoring.matching import MatchKind, PhraseMatcher
from qcpipe.scoring.normalize import PinyinCoder
from qcpipe.scoring.spec import ROLES, Fields, MatchSettings, Phrase, read_match_settings


class NotApplicableError(Exception):
    """Raised by a kind when a call lacks what the check needs; the message says what."""


class NotRelevant(Exception):
    """Raised by a kind when the check does not concern the call (its trigger never happened):
    the call neither passes nor fails it, and it does not count in compliance rates."""


@dataclass(frozen=True)
class Hit:
    """What a kind found: evidence for one deduction of its rule (fields as in `Finding`).

    veto: None = the rule's; a forbidden phrase sets its own.
    """

    speaker: Role
    start: float
    end: float
    quote: str
    phrase: str
    wording: str
    match_kind: MatchKind
    score: float
    veto: bool | None = None
    note: str = ""


@dataclass
class ParseContext:
    """What a kind needs while reading its YAML: named phrase sets and matching defaults.

    One pinyin coder serves the whole rulebook (phrases and heard text must share its codes),
    which is why `pinyin_equivalents` can be set only in the top-level `matching:`.
    """

    phrase_sets: dict[str, tuple[Phrase, ...]]
    matching: MatchSettings
    coder: PinyinCoder = field(init=False)
    _matchers: dict[tuple, PhraseMatcher] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.coder = PinyinCoder(self.matching.pinyin_equivalents)

    def matcher(self, phrases: Sequence[Phrase], fields: Fields) -> PhraseMatcher:
        """A matcher for `phrases` with the rule's `matching:` overrides, if any."""
        settings = self.matching
        if fields.has("matching"):
            settings = read_match_settings(fields.get("matching"), self.matching, f"{fields.what}: matching",
                                           top_level=False)
        key = (tuple(phrases), settings)  # rules sharing a phrase set share its matcher (and memo)
        if key not in self._matchers:
            self._matchers[key] = PhraseMatcher(phrases, settings, self.coder)
        return self._matchers[key]


class RuleKind:
    """Base of the rule kinds. Subclasses: a docstring saying what they check and why."""

    name: ClassVar[str] = ""
    needs_roles: ClassVar[bool] = True  # only the agent's words can cost the agent

    @classmethod
    def from_yaml(cls, fields: Fields, context: ParseContext) -> RuleKind:
        raise NotImplementedError

    def check(self, call: "CallView") -> list[Hit]:
        raise NotImplementedError

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        """The phrase lists this rule searches, by name, each with whose speech it searches.

        `qcpipe rules test` uses it to show which phrases a sentence matches and why.
        """
        raise NotImplementedError


KINDS: dict[str, type[RuleKind]] = {}


def register(name: str) -> Callable[[type[RuleKind]], type[RuleKind]]:
    """Class decorator: make a rule kind available to rulebooks as `kind: <name>`."""

    def add(cls: type[RuleKind]) -> type[RuleKind]:
        if name in KINDS:
            raise ValueError(f"rule kind {name!r} registered twice")
        cls.name = name
        KINDS[name] = cls
        return cls

    return add


def read_role(fields: Fields, key: str = "role") -> Role:
    return Role(fields.choice(key, ROLES))
