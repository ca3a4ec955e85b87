"""Every rule kind against its fixture cases (tests/scoring/fixtures/<kind>.yaml)."""

from __future__ import annotations

import dataclasses

import pytest

from qcpipe.scoring import MatchKind, score_call
from qcpipe.scoring.matchers import KINDS
from tests.helpers.calls import load_fixture_cases, make_call
from tests.helpers.paths import SCORING_FIXTURES

REQUIRED_TAGS = {"hit", "no-hit", "customer-said", "window-edge"}
# Kinds that measure the audio's timing or loudness rather than search phrases: no homophones to cover.
MEASURING_KINDS = {"silence_hold_notice", "dead_air", "interruption", "speech_rate", "agent_hangup", "raised_voice"}


def _cases():
    for kind in sorted(KINDS):
        if (SCORING_FIXTURES / f"{kind}.yaml").exists():
            for case in load_fixture_cases(kind):
                yield pytest.param(kind, case, id=f"{kind}: {case['name']}")


@pytest.mark.parametrize("kind, case", list(_cases()))
def test_fixture_case(rulebook, kind, case):
    rule_ids = case["rule"] if isinstance(case["rule"], list) else [case["rule"]]
    call = make_call(case["turns"], queue_wait_s=case.get("queue_wait_s", 20), speech=case.get("speech"),
                     timed_words=case.get("timed_words", False), duration_s=case.get("duration_s"))
    result = score_call(call, rulebook)
    for rule_id in rule_ids:
        assert rulebook.rule(rule_id).kind == kind
        findings = [f for f in result.findings if f.rule_id == rule_id]
        assert bool(findings) == case["finding"], (rule_id, [(f.quote, f.phrase, f.score, f.note) for f in findings])
        if "phrases" in case:
            assert sorted(f.phrase for f in findings) == sorted(case["phrases"])
        for finding in findings:
            if finding.match_kind not in (MatchKind.ABSENT, MatchKind.MEASURED):
                assert finding.speaker.value == "agent"
        if "count" in case:  # how many findings (e.g. one per silence)
            assert len(findings) == case["count"], [(f.start, f.end, f.note) for f in findings]
        if "span" in case:  # where the first finding points, to the tenth of a second
            assert [round(findings[0].start, 1), round(findings[0].end, 1)] == case["span"]
        if "not_applicable" in case:  # the check could not rule, and why
            reasons = [n.reason for n in result.not_applicable if n.rule_id == rule_id]
            assert reasons and case["not_applicable"] in reasons[0], reasons
        if "applied" in case:  # whether the check concerned the call at all
            assert (rule_id in result.applied) == case["applied"]
        if "uncertain" in case:  # whether the findings wait for a monitor (doubtful evidence), and why
            assert all(bool(f.doubt) == case["uncertain"] for f in findings), [(f.note, f.doubt) for f in findings]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_documented_and_has_fixtures(kind):
    cls = KINDS[kind]
    assert cls.__doc__ and len(cls.__doc__.strip()) > 80, f"{kind} needs a docstring saying what and why"
    assert (SCORING_FIXTURES / f"{kind}.yaml").exists(), f"{kind} needs tests/scoring/fixtures/{kind}.yaml"
    cases = load_fixture_cases(kind)
    assert any(c["finding"] for c in cases) and any(not c["finding"] for c in cases)
    tags = {c["tag"] for c in cases}
    assert REQUIRED_TAGS <= tags, f"{kind} fixtures lack {REQUIRED_TAGS - tags}"
    assert "near-miss" in tags, f"{kind} fixtures need a case just short of its threshold"
    if kind not in MEASURING_KINDS:  # phrases: ASR homophones must be covered
        assert "homophone" in tags


def test_every_default_rule_kind_is_registered(rulebook):
    assert {rule.kind for rule in rulebook.rules} <= set(KINDS)


def test_a_call_of_unknown_length_cannot_be_checked_for_a_hang_up(rulebook):
    call = dataclasses.replace(make_call([["agent", 20.0, 22.0, "好了，就这样吧。"],
                                          ["customer", 22.5, 24.5, "可是我还没说完。"]]), duration_s=None)
    result = score_call(call, rulebook)
    assert [n.reason for n in result.not_applicable if n.rule_id == "agent_hangup"] == [
        "the recording's length is unknown"]
    assert not [f for f in result.findings if f.rule_id == "agent_hangup"]
