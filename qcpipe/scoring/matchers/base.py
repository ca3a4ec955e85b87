"""The contract between the engine and the rule kinds, the kind registry, and the call view.

A rule *kind* is one small class, registered by name with `@register("kind_name")`; a rule
*instance* (greeting, closing …) is a YAML entry naming its kind. The kind's own fields are a
pydantic model (`spec`, a `CheckSpec` subclass next to the class); the class is built once from a
validated entry (`from_spec`) and then checks calls (`check`), returning `Hit`s; the engine turns
hits into `Finding`s with the rule's deduction, severity and the rulebook hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence, get_args

from qcpipe.asr.types import Role
from qcpipe.scoring.matching import HeardText, MatchKind, PhraseMatcher
from qcpipe.scoring.normalize import PinyinCoder
from qcpipe.scoring.spec import CheckSpec, MatchOverrides, MatchSettings, Phrase, PhraseSpec, to_phrases


class NotApplicableError(Exception):
    """Raised by a kind when a call lacks what the check needs; the message says what."""


class NotRelevant(Exception):
    """Raised by a kind when the check does not concern the call (its trigger never happened):
    the call neither passes nor fails it, and it does not count in compliance rates."""


@dataclass(frozen=True)
class Hit:
    """What a kind found: evidence for one deduction of its rule (fields as in `Finding`).

    veto: None = the rule's; a forbidden phrase sets its own.
    doubt: why the evidence is doubtful, and the finding uncertain: a missing phrase may have been
        said after all (`CallView.doubt`), a phrase found may not have been (`CallView.said_doubt`).
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
    doubt: str = ""


@dataclass
class ParseContext:
    """What a kind needs to build from its validated entry: named phrase sets and matching defaults.

    One pinyin coder serves the whole rulebook (phrases and heard text must share its codes),
    which is why `pinyin_equivalents` can be set only in the top-level `matching:`.
    """

    phrase_sets: dict[str, tuple[Phrase, ...]]
    matching: MatchSettings
    coder: PinyinCoder = field(init=False)
    _matchers: dict[tuple, PhraseMatcher] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.coder = PinyinCoder(self.matching.pinyin_equivalents)

    def phrases(self, value: str | Sequence[str | PhraseSpec], default_veto: bool = False) -> tuple[Phrase, ...]:
        """The phrases of a validated phrase list, or of the named phrase set (as the set defines them)."""
        return self.phrase_sets[value] if isinstance(value, str) else to_phrases(value, default_veto)

    def matcher(self, phrases: Sequence[Phrase], *overrides: MatchOverrides | None) -> PhraseMatcher:
        """A matcher for `phrases` with the rule's `matching:` overrides, if any, then those of
        the part of the rule it serves (a trigger's own `matching:`)."""
        settings = self.matching
        for override in overrides:
            if override:
                settings = override.applied_to(settings)
        key = (tuple(phrases), settings)  # rules sharing a phrase set share its matcher (and memo)
        if key not in self._matchers:
            self._matchers[key] = PhraseMatcher(phrases, settings, self.coder)
        return self._matchers[key]


class RuleKind:
    """Base of the rule kinds. Subclasses: a docstring saying what they check and why."""

    name: ClassVar[str] = ""
    spec: ClassVar[type[CheckSpec]]  # the kind's fields: `kind: Literal["<name>"]` and its own, documented
    needs_roles: ClassVar[bool] = True  # only the agent's words can cost the agent
    # Its phrases are lines the role is to say (a script), which ASR may read again against the
    # audio where it heard something that sounds like one (`qcpipe.asr.script`). Not 禁语.
    script: ClassVar[bool] = True

    @classmethod
    def from_spec(cls, spec: CheckSpec, context: ParseContext) -> RuleKind:
        """The rule instance of one validated rulebook entry of this kind."""
        raise NotImplementedError

    def check(self, call: "CallView") -> list[Hit]:
        raise NotImplementedError

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        """The phrase lists this rule searches, by name, each with whose speech it searches.

        `qcpipe rules test` uses it to show which phrases a sentence matches and why.
        """
        raise NotImplementedError

    def readings(self, heard: HeardText) -> list[Reading]:
        """How a meaning model reads each sentence of `heard` (`qcpipe rules test`); none by default."""
        return []


@dataclass(frozen=True)
class Reading:
    """One sentence as a rule's meaning model reads it: its span in the heard text's normalised
    characters, the probability that it is what the rule looks for, and whether the rule raises it
    (probability at the threshold or above, long enough, no listed phrase in it) when `role` says it."""

    start: int
    end: int
    probability: float
    raised: bool
    model: str
    threshold: float
    role: Role


KINDS: dict[str, type[RuleKind]] = {}


def register(name: str) -> Callable[[type[RuleKind]], type[RuleKind]]:
    """Class decorator: make a rule kind available to rulebooks as `kind: <name>`."""

    def add(cls: type[RuleKind]) -> type[RuleKind]:
        if name in KINDS:
            raise ValueError(f"rule kind {name!r} registered twice")
        if get_args(cls.spec.model_fields["kind"].annotation) != (name,):
            raise ValueError(f"{cls.__name__}.spec must declare kind: Literal[{name!r}]")
        cls.name = name
        KINDS[name] = cls
        return cls

    return add
