"""What scoring takes and gives: a call as heard, and its findings with evidence. All frozen."""

from __future__ import annotations

from dataclasses import dataclass

from qcpipe.asr.types import Role, Segment, SpeechRegion, Transcript
from qcpipe.scoring.matching import MatchKind


@dataclass(frozen=True)
class CallInput:
    """One call as the scoring stage sees it.

    segments: the utterances (any order; scoring sorts by start).
    speech: each channel's voice activity; silence checks need it (empty = not applicable).
    unheard: voiced stretches no word was recognised in; a check for a phrase that may have
        been said there is not applicable.
    queue_wait_s / duration_s: from the CTI manifest; rule conditions read them (None = unknown).
    """

    call_id: str
    segments: tuple[Segment, ...]
    speech: tuple[SpeechRegion, ...] = ()
    queue_wait_s: float | None = None
    duration_s: float | None = None
    unheard: tuple[SpeechRegion, ...] = ()

    @property
    def roles_known(self) -> bool:
        """Stereo recordings tell agent from customer; mono ones (role `unknown`) do not."""
        return bool(self.segments) and all(s.role is not Role.UNKNOWN for s in self.segments)

    @classmethod
    def from_transcript(cls, call_id: str, transcript: Transcript, queue_wait_s: float | None = None) -> CallInput:
        return cls(call_id=call_id, segments=transcript.segments, speech=transcript.speech,
                   unheard=transcript.unheard, queue_wait_s=queue_wait_s, duration_s=transcript.duration)


@dataclass(frozen=True)
class Finding:
    """One deduction and the evidence a monitor, trainer or appealing agent needs to check it.

    speaker/start/end: who and when (seconds from the start of the recording). For a phrase
        said, the span of the matched characters; for a phrase missing, the window searched.
    quote: the text as heard (the matched characters, or the window's text when absent).
    phrase: the rulebook phrase said or missing; wording: the wording of it that matched.
    match_kind / score: exact, char or pinyin and the similarity (0–1); `absent` with the
        similarity of the nearest miss.
    note: a sentence of context (what was missing, what triggered the check).
    doubt: why the evidence for a missing phrase is doubtful (the window was heard with low
        confidence); such a finding is `uncertain`: it deducts nothing until a monitor confirms it.
    A finding of a check with `deduction: 0` and no veto is an observation (`observation`): it is
    reported with the call and costs nothing; it is not a violation.
    """

    call_id: str
    rule_id: str
    title: str
    deduction: float
    severity: str
    veto: bool
    speaker: Role
    start: float
    end: float
    quote: str
    phrase: str
    wording: str
    match_kind: MatchKind
    score: float
    rulebook_hash: str
    note: str = ""
    doubt: str = ""

    @property
    def observation(self) -> bool:
        """Reported, not charged: the check deducts nothing and does not zero the call."""
        return self.deduction == 0 and not self.veto


@dataclass(frozen=True)
class NotApplicable:
    """A check that could not be applied to a call, and why (mono recording, no timeline …)."""

    rule_id: str
    reason: str


@dataclass(frozen=True)
class CallScore:
    """A call's QA result: 100 − deductions (floor 0; any veto finding → 0) and the findings
    (uncertain ones, with a `doubt`, deduct nothing until confirmed)."""

    call_id: str
    score: float
    findings: tuple[Finding, ...]
    not_applicable: tuple[NotApplicable, ...]
    rulebook_hash: str
    applied: tuple[str, ...] = ()  # the checks that concerned this call (compliance denominators)

    @property
    def violated(self) -> frozenset[str]:
        """The ids of the checks this call violates: findings that deduct. Observations are
        reported, not violations; uncertain findings (with a `doubt`) are not violations until a
        monitor confirms them, as `qcpipe eval` counts stored calls."""
        return frozenset(f.rule_id for f in self.findings if not f.observation and not f.doubt)
