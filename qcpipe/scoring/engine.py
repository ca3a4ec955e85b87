"""Scoring a call: run every rule of the rulebook, collect findings, compute the call score."""

from __future__ import annotations

from qcpipe.scoring.matchers import CallView, NotApplicableError, NotRelevant
from qcpipe.scoring.model import CallInput, CallScore, Finding, NotApplicable
from qcpipe.scoring.rulebook import Rule, Rulebook

FULL_SCORE = 100.0


def score_call(call: CallInput, rulebook: Rulebook) -> CallScore:
    """Score one call: 100 − the deductions of its findings, floored at 0; any veto → 0.

    Checks that cannot be applied (a mono recording has no agent/customer roles; a condition
    field the manifest lacks; no voice-activity timeline) are listed in `not_applicable`
    instead of guessed.
    """
    view = CallView(call, rulebook.coder, rulebook.evidence)
    findings: list[Finding] = []
    skipped: list[NotApplicable] = []
    applied: list[str] = []
    for rule in rulebook.rules:
        reason = _why_not_applicable(rule, view)
        if reason == "":
            continue  # condition false: the rule does not concern this call
        if reason is not None:
            skipped.append(NotApplicable(rule.id, reason))
            continue
        try:
            hits = rule.matcher.check(view)
        except NotApplicableError as exc:
            skipped.append(NotApplicable(rule.id, str(exc)))
            continue
        except NotRelevant:
            continue
        applied.append(rule.id)
        findings += [
            Finding(call_id=call.call_id, rule_id=rule.id, title=rule.title, deduction=rule.deduction,
                    severity=rule.severity, veto=rule.veto if hit.veto is None else hit.veto,
                    speaker=hit.speaker, start=round(hit.start, 3), end=round(hit.end, 3), quote=hit.quote,
                    phrase=hit.phrase, wording=hit.wording, match_kind=hit.match_kind, score=hit.score,
                    rulebook_hash=rulebook.content_hash, note=hit.note, doubt=hit.doubt)
            for hit in hits
        ]
    return CallScore(call_id=call.call_id, score=call_score([f for f in findings if not f.doubt]), findings=tuple(findings),
                     not_applicable=tuple(skipped), rulebook_hash=rulebook.content_hash, applied=tuple(applied))


def call_score(findings: list[Finding] | tuple[Finding, ...]) -> float:
    """100 − the sum of deductions, floored at 0; a veto finding sets it to 0."""
    if any(f.veto for f in findings):
        return 0.0
    return max(0.0, FULL_SCORE - sum(f.deduction for f in findings))


def _why_not_applicable(rule: Rule, view: CallView) -> str | None:
    """None: apply the rule. "": skip it silently (condition false). Else: the reason it can't apply."""
    if rule.condition is not None:
        value = getattr(view.call, rule.condition.field)
        if value is None:
            return f"{rule.condition.field} unknown (condition {rule.condition})"
        if not rule.condition.holds(value):
            return ""
    if not view.segments:
        return "no speech recognised in this call"
    if type(rule.matcher).needs_roles and not view.roles_known:
        return "speaker roles unknown (mono recording): only the agent's words may cost the agent"
    return None
