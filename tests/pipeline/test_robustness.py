"""Degraded recordings end to end: every kind of degradation of the robustness corpus
(tests/helpers/degrade.py) on two dev calls, through the real pipeline into SQLite.

The agent is charged only for what the agent demonstrably said or did not say: on every
variant a clean call gets no deduction and a call's labelled violations are still found. The
whole table over the corpus is scripts/bench_robustness.py's; this is CI's small share of it.
"""

from __future__ import annotations

import pytest

from qcpipe.ingest import read_manifest
from qcpipe.pipeline import run_batch
from qcpipe.scoring import load_rulebook
from sqlalchemy import select

from qcpipe.store import Call, FindingStatus, open_database
from qcpipe.store import repository as repo
from tests.helpers.calls import dev_label
from tests.helpers.degrade import VARIANTS, available_variants, degrade_corpus
from tests.helpers.paths import DEV_CORPUS

pytestmark = pytest.mark.asr

# Each kind of degradation, at its hardest where it has levels: line echo both ways at its
# loudest (-10 dB) and the customer's at its quietest (-20 dB: the hardest to tell from the
# agent's own voice), one G.711 law (μ-law and A-law are the same kind). Every level of every
# kind, over the whole corpus, is scripts/bench_robustness.py's.
KINDS = ["crosstalk-c2a-20", "crosstalk-c2a-10", "crosstalk-a2c-10", "babble-15", "gsm", "amr-nb", "alaw",
         "packet-loss", "clipping", "level+12", "level-12", "tempo-0.90", "tempo-1.15"]
CLEAN_CALL = "D110001"
VIOLATING_CALL = "D110011"  # a 服务禁语 and an unannounced hold: one presence and one absence check


@pytest.fixture(scope="module", params=[variant for variant in available_variants() if variant in KINDS])
def variant_results(request, tmp_path_factory, run_transcriber):
    """(variant, violations by call, uncertain findings, not-applicable checks) of the two calls."""
    variant = request.param
    folder = degrade_corpus(DEV_CORPUS, tmp_path_factory.mktemp(variant), variant, [CLEAN_CALL, VIOLATING_CALL])
    database = open_database(f"sqlite:///{folder / 'qcpipe.db'}")
    try:
        summary = run_batch(read_manifest(folder / "calls.csv"), database, lambda: run_transcriber,
                            asr_fingerprint=run_transcriber.options.fingerprint(), workers=run_transcriber.workers,
                            rulebook=load_rulebook())
        assert summary.failed == 0, summary.failures
        with database.session() as session:
            violations = repo.violations_by_call(session)
            uncertain = [(call.call_id, f.rule_id, f.doubt) for call, f in repo.iter_findings(session)
                         if f.status == FindingStatus.UNCERTAIN]
            not_applicable = {call.call_id: call.not_applicable for call in session.scalars(select(Call))}
    finally:
        database.dispose()
    return variant, violations, uncertain, not_applicable


def test_a_clean_call_is_not_charged(variant_results, request):
    variant, violations, uncertain, _ = variant_results
    if variant.startswith("babble"):
        # Colleagues 15 dB under the agent (the same voice, in this corpus) still make Whisper
        # lose a closing's 再见 or a greeting's 您好 now and then, in both hearings of the channel
        # (asr.room): 0 or 1 clean call of 25 over the corpus, which one varying with the
        # decoder's temperature fallback, which samples. Known and open (issue 12's table).
        request.applymarker(pytest.mark.xfail(reason="room babble still costs some clean calls a closing "
                                                     "or greeting", strict=False))
    assert violations[CLEAN_CALL] == set(), variant
    # A check heard with low confidence may be uncertain (it deducts nothing and goes to the
    # monitors, saying why): the issue bounds how often over the corpus (at most 10 % of clean
    # calls per variant, scripts/bench_robustness.py), not on one call. Which call it hits
    # varies with the CPU's int8 kernels: through GSM, D110001's closing 感谢 is heard as 展现
    # (probability 0.17) on an AMD EPYC with either vocabulary, and was heard right on the
    # Intel Xeon of earlier runs.
    assert all(doubt for call_id, _rule, doubt in uncertain if call_id == CLEAN_CALL), variant


def test_the_labelled_violations_are_found_and_nothing_else(variant_results):
    variant, violations, _, not_applicable = variant_results
    assert violations[VIOLATING_CALL] == set(dev_label(VIOLATING_CALL)["violations"]), (variant, not_applicable)


def test_no_check_is_left_out_of_these_calls(variant_results):
    variant, _, _, not_applicable = variant_results
    assert not_applicable == {CLEAN_CALL: [], VIOLATING_CALL: []}, variant


def test_each_kind_of_degradation_is_run_here():
    def kind(name: str) -> str:  # crosstalk-c2a, babble, level, tempo, g711 …
        return "g711" if name in ("ulaw", "alaw") else name.rstrip("0123456789.+-")

    assert set(KINDS) <= set(VARIANTS)
    assert {kind(name) for name in KINDS} == {kind(name) for name in VARIANTS}
