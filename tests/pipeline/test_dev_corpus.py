"""End to end over the labelled dev corpus: real audio, real model, default rulebook, real SQLite.

The goals of the scoring stage are asserted here on what the pipeline actually heard.
"""

from __future__ import annotations

import pytest

from qcpipe.scoring import evaluate
from qcpipe.store import repository as repo

pytestmark = pytest.mark.asr

CHECKS = (
    "greeting", "closing", "wait_apology", "forbidden_phrase",
    "complaint.apology", "complaint.record", "complaint.followup", "hold_notice",
)


@pytest.fixture(scope="module")
def report(dev_db, dev_corpus):
    with dev_db.session() as session:
        predicted = repo.violations_by_call(session)
    return evaluate(predicted, dev_corpus / "labels")


def test_every_dev_call_is_compared(report) -> None:
    assert report.calls_compared == 64


def test_micro_f1_meets_the_goal(report) -> None:
    assert report.micro_f1 >= 0.97, report.format()


@pytest.mark.parametrize("check", CHECKS)
def test_each_check_meets_the_goal(report, check: str) -> None:
    assert report.check(check).f1 >= 0.9, report.format()


def test_clean_calls_are_rarely_flagged(report) -> None:
    assert report.clean_flagged_share <= 0.03, report.format()


def test_every_finding_carries_evidence(dev_db) -> None:
    with dev_db.session() as session:
        rows = list(repo.iter_findings(session))
    assert rows
    for call, finding in rows:
        assert finding.speaker in ("agent", "unknown"), "customer speech never earns a deduction"
        assert 0 <= finding.start_s <= finding.end_s <= call.duration_s + 0.5
        assert finding.quote and finding.rulebook_hash
        # Open for a monitor; noted: an observation of a check that deducts nothing (dead_air);
        # uncertain: doubtful evidence, said why (a sentence the meaning model raised).
        expected = "noted" if finding.deduction == 0 and not finding.veto else "uncertain" if finding.doubt else "open"
        assert finding.status == expected, (call.call_id, finding.rule_id, finding.quote)
        assert call.qa_score is not None and 0 <= call.qa_score <= 100
