"""Whole calls in unseen wordings (fixtures/calls.yaml): the default rulebook reports exactly the labels."""

from __future__ import annotations

import pytest
import yaml

from qcpipe.scoring import score_call
from tests.helpers.calls import make_call
from tests.helpers.paths import SCORING_FIXTURES

CALLS = yaml.safe_load((SCORING_FIXTURES / "calls.yaml").read_text(encoding="utf-8"))["calls"]


@pytest.mark.parametrize("case", CALLS, ids=[c["name"] for c in CALLS])
def test_call_reports_exactly_its_violations(rulebook, case):
    result = score_call(make_call(case["turns"], queue_wait_s=case["queue_wait_s"]), rulebook)
    assert result.violated == set(case["violations"]), [(f.rule_id, f.quote, f.phrase, f.note) for f in result.findings]
