"""Every rule kind against its fixture cases (tests/scoring/fixtures/<kind>.yaml)."""

from __future__ import annotations

import pytest

from qcpipe.scoring import MatchKind, score_call
from qcpipe.scoring.matchers import KINDS
from tests.helpers.calls import load_fixture_cases, make_call
from tests.helpers.paths import SCORING_FIXTURES

REQUIRED_TAGS = {"hit", "no-hit", "customer-said", "window-edge"}


def _cases():
    for kind in sorted(KINDS):
        if (SCORING_FIXTURES / f"{kind}.yaml").exists():
            for case in load_fixture_cases(kind):
                yield pytest.param(kind, case, id=f"{kind}: {case['name']}")


@pytest.mark.parametrize("kind, case", list(_cases()))
def test_fixture_case(rulebook, kind, case):
    rule_ids = case["rule"] if isinstance(case["rule"], list) else [case["rule"]]
    call = make_call(case["turns"], queue_wait_s=case.get("queue_wait_s", 20), speech=case.get("speech"))
    result = score_call(call, rulebook)
    for rule_id in rule_ids:
        assert rulebook.rule(rule_id).kind == kind
        findings = [f for f in result.findings if f.rule_id == rule_id]
        assert bool(findings) == case["finding"], (rule_id, [(f.quote, f.phrase, f.score, f.note) for f in findings])
        if "phrases" in case:
            assert sorted(f.phrase for f in findings) == sorted(case["phrases"])
        for finding in findings:
            if finding.match_kind is not MatchKind.ABSENT:
                assert finding.speaker.value == "agent"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_documented_and_has_fixtures(kind):
    cls = KINDS[kind]
    assert cls.__doc__ and len(cls.__doc__.strip()) > 80, f"{kind} needs a docstring saying what and why"
    assert (SCORING_FIXTURES / f"{kind}.yaml").exists(), f"{kind} needs tests/scoring/fixtures/{kind}.yaml"
    cases = load_fixture_cases(kind)
    assert any(c["finding"] for c in cases) and any(not c["finding"] for c in cases)
    tags = {c["tag"] for c in cases}
    assert REQUIRED_TAGS <= tags, f"{kind} fixtures lack {REQUIRED_TAGS - tags}"
    if kind != "silence_hold_notice":  # phrases: ASR homophones must be covered
        assert "homophone" in tags and "near-miss" in tags


def test_every_default_rule_kind_is_registered(rulebook):
    assert {rule.kind for rule in rulebook.rules} <= set(KINDS)
