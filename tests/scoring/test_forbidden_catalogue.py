"""The default rulebook's 服务禁语 catalogue against published 禁语, their polite counterparts,
paraphrases (tests/scoring/fixtures/forbidden_devset.yaml) and real agent lines that must pass.

The project is judged on 禁语 and polite wordings from handbooks it has never seen; these rates
are the proxy: at least 90 % of the published 禁语 caught, at most 2 % of the polite wordings
flagged, at least 75 % of the paraphrases caught. Each line is one agent utterance, heard exactly.

The `heldout_*` sections are 禁语, polite wordings and paraphrases from handbooks the catalogue
had not drawn on (banks, government service centers, hotlines, hospitals, e-commerce), added in
batches, each measured once before the catalogue was changed for it (the YAML header has them
all): the first, published 禁语 33/69 caught, polite 0/72 flagged, paraphrases 28/37 caught;
`round: 2` 3/11, 0/15, 20/24; `round: 3` 1/2, 0/12, 15/30; `round: 4` (paraphrases and polite
near misses) 14/30, 0/18; `round: 5` 20/29, 2/20. The catalogue was tuned on those five;
`round: 6` (paraphrases 14/30 caught, polite near misses 1/15 flagged) was written after the
tuning and then tuned on (gapped patterns and intent frames); `round: 7`, written blind by
someone who had seen neither the catalogue nor this set, is not tuned on: 23/47 paraphrases
caught before the gaps and frames, 27/47 after, 0/23 polite near misses flagged either way.
Rounds 8 to 12 were written blind the same way. The meaning model (the check's `meaning:`) never
learns from round 7 on; with it, rounds 7-12 are caught 277/358 (77 %; the list alone 165/358),
and none of their 214 polite lines is flagged; round 12, measured once after the model was
final, 52/64 (81 %). A line counts as caught or flagged here whether a listed
phrase charges it or the model raises it for a monitor (an uncertain finding).
The floors asserted here (90 % of the published 禁语 and 85 % of the paraphrases caught, at most 2 % of the polite wordings flagged) guard what was reached; the
first measurements are the estimate of how it does on wordings it has not seen.
"""

from __future__ import annotations

import json

import pytest
import yaml

from qcpipe.scoring import MatchKind, score_call
from tests.helpers.calls import make_call
from tests.helpers.paths import REAL_TEXT, SCORING_FIXTURES

GOALS = {"forbidden": ("caught", 0.90), "paraphrases": ("caught", 0.75), "polite": ("flagged", 0.02),
         "heldout_forbidden": ("caught", 0.90), "heldout_paraphrases": ("caught", 0.85),
         "heldout_polite": ("flagged", 0.02)}
PUBLISHED = ("forbidden", "polite", "heldout_forbidden", "heldout_polite")  # lines that cite a source


@pytest.fixture(scope="module")
def devset() -> dict:
    return yaml.safe_load((SCORING_FIXTURES / "forbidden_devset.yaml").read_text(encoding="utf-8"))


def _flagged(rulebook, text: str, call_id: str = "T0001") -> list[str]:
    """The 禁语 the forbidden_phrase check finds in one agent utterance."""
    result = score_call(make_call([["agent", 0.0, 5.0, text]], call_id=call_id), rulebook)
    return [f.phrase for f in result.findings if f.rule_id == "forbidden_phrase"]


@pytest.mark.parametrize("section", sorted(GOALS))
def test_catalogue_rates_on_the_dev_set(rulebook, devset, section):
    """The rounds tuned on; the blind ones are measured apart (below)."""
    lines = [item["text"] for item in devset[section] if not _blind(section, item)]
    flagged = {text: _flagged(rulebook, text) for text in lines}
    kind, goal = GOALS[section]
    if kind == "caught":
        missed = [text for text in lines if not flagged[text]]
        rate = 1 - len(missed) / len(lines)
        assert rate >= goal, f"{section}: {rate:.1%} caught (goal {goal:.0%}); missed: {missed}"
    else:
        wrong = {text: phrases for text, phrases in flagged.items() if phrases}
        rate = len(wrong) / len(lines)
        assert rate <= goal, f"{section}: {rate:.1%} flagged (at most {goal:.0%}): {wrong}"


def _blind(section: str, item: dict) -> bool:
    """A line of a blind round: held out from round 7 on, never tuned on nor learnt from."""
    return section.startswith("heldout_") and item.get("round", 0) >= 7


def test_blind_rounds_with_the_meaning_model(rulebook, devset):
    """Rounds 7 and later: wordings neither the catalogue nor the meaning model learnt from.
    The floors guard what was measured: 308 of 398 caught (77 %); 1 of 244 polite lines is flagged
    (round 13's 不好意思，我是新来的…, by the listed 我是新手). Round 11's 抱歉刚才没听清，您能稍微大声一点吗
    was flagged by the listed 大声点 until 您能 became a polite marker."""
    paraphrases = [item["text"] for item in devset["heldout_paraphrases"] if _blind("heldout_paraphrases", item)]
    polite = [item["text"] for item in devset["heldout_polite"] if _blind("heldout_polite", item)]
    missed = [text for text in paraphrases if not _flagged(rulebook, text)]
    assert len(paraphrases) == 398 and 1 - len(missed) / len(paraphrases) >= 0.77, missed
    flagged = [text for text in polite if _flagged(rulebook, text)]
    assert len(polite) == 244 and len(flagged) <= 0.02 * len(polite), flagged


def test_dev_set_is_well_formed(devset):
    """Every published line names a source the file lists; no line is in two sections."""
    sources = set(devset["sources"])
    for section in PUBLISHED:
        unknown = [item["text"] for item in devset[section] if item["source"] not in sources]
        assert not unknown, f"{section}: lines without a listed source: {unknown}"
    seen: dict[str, str] = {}
    for section in GOALS:
        for item in devset[section]:
            assert seen.setdefault(item["text"], section) == section, f"{item['text']} is in two sections"
    assert len(devset["forbidden"]) >= 100 and len(devset["polite"]) >= 100 and len(devset["paraphrases"]) >= 40
    assert len(devset["heldout_forbidden"]) >= 60 and len(devset["heldout_polite"]) >= 60
    assert len(devset["heldout_paraphrases"]) >= 40


def test_real_agent_lines_are_not_flagged(rulebook):
    """4,844 real JD customer-service agent lines (shared/corpus/real-text): none is a 禁语. No
    listed phrase matches any; the meaning model raises 10 for a monitor to hear (0.2 %: 你你看你看哦,
    妹子就是不跟你升级的 …), and at most 0.25 % may be: raised lines deduct nothing until confirmed."""
    lines = json.loads(REAL_TEXT.read_text(encoding="utf-8"))["agent"]
    found = {line: result for n, line in enumerate(lines)
             if (result := score_call(make_call([["agent", 0.0, 5.0, line]], call_id=f"R{n:05d}"), rulebook).findings)}
    listed = {line: [f.phrase for f in findings if f.rule_id == "forbidden_phrase" and f.match_kind != MatchKind.MEANING]
              for line, findings in found.items()}
    raised = [line for line, findings in found.items()
              if any(f.rule_id == "forbidden_phrase" and f.match_kind == MatchKind.MEANING for f in findings)]
    assert len(lines) == 4844
    assert {line: phrases for line, phrases in listed.items() if phrases} == {}
    assert len(raised) <= 0.0025 * len(lines), raised
