"""The required and triggered checks on wordings written blind (tests/scoring/fixtures/wordings_devset.yaml).

The project is judged on calls in wordings its rulebook was not written from. Each line of the
dev set is scored inside a scripted call: a first agent turn (greeting, wait apology), a last one
(closing), the agent's reply to a complaint (apology, record, follow-up), the words before a
silence of 20 s (hold notice), a customer's turn (complaint triggers: the complaint checks apply).

Round 1 was measured once and then tuned on: the rulebook's families were widened (greeting 45/46,
closing 43/45, wait apology 23/25, record 24/28, follow-up 15/28, hold notice 28/30 and complaint
triggers 27/46 before). Round 2 was written blind in other industries and measured once before and
after that tuning: greeting 37 → 38/38, closing 32 → 34/36, wait apology 13 → 13/20, apology
35 → 35/36, record 30 → 33/36, follow-up 20 → 31/36, hold notice 24 → 25/26, and complaints 15 →
42/72 (the trigger list alone 16, the complaint meaning model raising 26 more as uncertain), with
3 of 36 ordinary customer lines taken for complaints (1 before). Round 2 was then tuned on too,
except its complaints, which the meaning model never learns from.

Round 3 was written after all of that, in yet other industries, with dialect and internet slang,
and measured once (the rulebook before this work → after): greeting 29 → 30/30, closing 25 → 28/30,
wait apology 18 → 19/20, apology 25/25, record 17 → 22/25, follow-up 13 → 22/25 (1 of 15 wrong
either way), hold notice 20/20 (wrongly accepted 4 → 3 of 15), complaints 8 → 39/60 (the list
alone 10, the model 29 more), 1 of 30 ordinary lines taken for one either way. It is never tuned
on: it is the estimate of how the rulebook does on wordings it has not seen.

Round 4 was written blind in yet other industries and measured once (before → after it was tuned
on): greeting 27 → 30/30, closing 28 → 30/30, wait apology 17 → 20/20 (wrongly accepted 2 → 0 of
10: 来电的人比较多 said without an apology), apology 25/25 (wrongly accepted 4 → 2 of 15: an
apology that only asks something or says it did not hear is none; 不好意思，麻烦您… and 抱歉，我这边
需要先核对… still pass, as 非常抱歉，麻烦您… is one), record 20 → 25/25 (1 → 0 of 15),
follow-up 18 → 25/25, hold notice 14 → 20/20 (1 → 0 of 15: 您先挂电话等通知 had passed for 您先
别挂电话), complaints 33/60 with 2 of 30 ordinary lines taken for one (not tuned on). The floors
guard what was reached.
"""

from __future__ import annotations

import pytest
import yaml

from qcpipe.scoring import score_call
from tests.helpers.calls import make_call
from tests.helpers.paths import SCORING_FIXTURES

ROUNDS = yaml.safe_load((SCORING_FIXTURES / "wordings_devset.yaml").read_text(encoding="utf-8"))["rounds"]
OPENING = "您好，欢迎致电，很高兴为您服务，请问有什么可以帮您？"
CLOSING = "感谢您的来电，祝您生活愉快，再见。"
COMPLAINT = "你们这个服务太差了，我要投诉！"

# (round, section): (share of `meets` the checks accept, share of `fails` they accept at most)
FLOORS = {
    (1, "complaint_triggers"): (1.0, 0.04),
    (1, "hold_notice"): (1.0, 0.12),
    (2, "complaint_triggers"): (0.58, 0.09),
    (3, "closing"): (0.93, 0.0),
    (3, "wait_apology"): (0.95, 0.0),
    (3, "complaint_record"): (0.88, 0.0),
    (3, "complaint_followup"): (0.88, 0.07),
    (3, "hold_notice"): (1.0, 0.2),
    (3, "complaint_triggers"): (0.65, 0.04),
    (4, "complaint_apology"): (1.0, 0.14),
    (4, "complaint_triggers"): (0.55, 0.07),
}


def _fired(rulebook, section: str, line: str) -> bool:
    """Whether the section's check reports a scripted call holding `line` where it belongs."""
    agent_reply = [["agent", 0.5, 5.0, OPENING], ["customer", 5.5, 8.0, COMPLAINT], ["agent", 9.0, 15.0, line],
                   ["agent", 30.0, 34.0, CLOSING]]
    calls = {
        "greeting": ("greeting", [["agent", 0.5, 5.0, line], ["customer", 5.5, 7.0, "我想查一下。"], ["agent", 8.0, 12.0, CLOSING]], 20),
        "wait_apology": ("wait_apology", [["agent", 0.5, 5.0, line], ["customer", 5.5, 7.0, "我想查一下。"], ["agent", 8.0, 12.0, CLOSING]], 60),
        "closing": ("closing", [["agent", 0.5, 5.0, OPENING], ["customer", 5.5, 7.0, "好的谢谢。"], ["agent", 8.0, 14.0, line]], 20),
        "complaint_apology": ("complaint.apology", agent_reply, 20),
        "complaint_record": ("complaint.record", agent_reply, 20),
        "complaint_followup": ("complaint.followup", agent_reply, 20),
        "hold_notice": ("hold_notice", [["agent", 0.5, 5.0, OPENING], ["customer", 5.5, 8.0, "帮我查一下订单。"],
                                        ["agent", 9.0, 12.0, line], ["agent", 33.0, 36.0, "您好，查到了。"],
                                        ["agent", 40.0, 44.0, CLOSING]], 20),
        # a complaint answered without an apology: complaint.apology reports it
        "complaint_triggers": ("complaint.apology", [["agent", 0.5, 5.0, OPENING], ["customer", 5.5, 9.0, line],
                                                     ["agent", 10.0, 13.0, "好的，我帮您看一下。"],
                                                     ["agent", 30.0, 34.0, CLOSING]], 20),
    }
    rule_id, turns, queue_wait_s = calls[section]
    return any(f.rule_id == rule_id for f in score_call(make_call(turns, queue_wait_s=queue_wait_s), rulebook).findings)


@pytest.mark.parametrize("number, section", [(r["round"], s) for r in ROUNDS for s in r if s != "round"])
def test_wordings_written_blind(rulebook, number, section):
    lines = next(r for r in ROUNDS if r["round"] == number)[section]
    # A finding means "missing" for the required checks, and "a complaint was heard" for the triggers.
    accepted = (lambda line: _fired(rulebook, section, line)) if section == "complaint_triggers" else \
        (lambda line: not _fired(rulebook, section, line))
    missed = [line for line in lines["meets"] if not accepted(line)]
    wrong = [line for line in lines["fails"] if accepted(line)]
    meets_floor, fails_ceiling = FLOORS.get((number, section), (1.0, 0.0))
    assert 1 - len(missed) / len(lines["meets"]) >= meets_floor, missed
    assert len(wrong) / len(lines["fails"]) <= fails_ceiling, wrong
