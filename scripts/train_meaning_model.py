#!/usr/bin/env python
"""Build the shipped meaning models: the 禁语 one (qcpipe/configs/rules/forbidden-meaning.json)
and, with `--model complaint-meaning`, the complaint one (complaint-meaning.json).

    python scripts/train_meaning_model.py [--out qcpipe/configs/rules/forbidden-meaning.json]
        [--devset tests/scoring/fixtures/forbidden_devset.yaml]
        [--forbidden tests/scoring/fixtures/written_forbidden_lines*.txt]
        [--not-forbidden tests/scoring/fixtures/ordinary_agent_lines.txt
                         tests/scoring/fixtures/written_polite_lines*.txt]
        [--dev-labels ../shared/corpus/dev/labels] [--measure]

What it learns from:
- 禁语: the dev set's published 禁语 and paraphrases (`forbidden`, `paraphrases`, and the
  `heldout_*` rounds that were tuned on), and 禁语 written for training in eight families'
  words, in general and industry by industry (power, carriers, banks, hospitals, delivery …;
  `--forbidden`, one line each);
- not 禁语: the dev set's polite wordings and near misses, lines written for training
  (`--not-forbidden`: ordinary answers, refusals within the rules, procedures and short replies;
  polite near misses: not knowing and then helping, transfers, call-backs, asking to speak up),
  and the agent turns of the dev corpus's calls that have no 禁语.
The blind rounds (`heldout_*` with `round` 7 or later) are never learnt from: they measure how the
model does on wordings it has not seen. `--measure` prints that: for each blind round, the lines
the catalogue alone catches (or flags) and with the model, at the threshold of the default rulebook.
Training is deterministic: the same lines give the same file.

    python scripts/train_meaning_model.py --model complaint-meaning
        [--complaints tests/scoring/fixtures/written_complaint_lines.txt]
        [--not-complaints tests/scoring/fixtures/written_customer_lines.txt]
        [--wordings tests/scoring/fixtures/wordings_devset.yaml] [--dev-labels …] [--measure]

What the complaint model learns from: customers' complaints written for training (direct, sarcastic,
resigned, threatening, polite but dissatisfied; many industries) and the complaints of the wordings
dev set's rounds that were tuned on, against ordinary customer lines (questions, requests, calm
fault reports, praise) written for training, the dev set's near misses, and the customer turns of
the dev corpus's calls in which the trigger list hears no complaint. The blind rounds of the
wordings dev set (`round` 2 or later) are never learnt from; `--measure` prints them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qcpipe.scoring.meaning import train_meaning_model  # noqa: E402

BLIND_FROM_ROUND = 7  # heldout rounds from this one on are measured, never learnt from
WORDINGS_BLIND_FROM_ROUND = 2  # the same for the wordings dev set (tests/scoring/fixtures/wordings_devset.yaml)
POSITIVE = ("forbidden", "paraphrases", "heldout_forbidden", "heldout_paraphrases")
NEGATIVE = ("polite", "heldout_polite")


def blind(section: str, item: dict) -> bool:
    return section.startswith("heldout_") and item.get("round", 0) >= BLIND_FROM_ROUND


def lines_of(paths: list[Path]) -> list[str]:
    return [line.strip() for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_lines(devset: Path, forbidden: list[Path], not_forbidden: list[Path],
                   dev_labels: Path | None) -> tuple[list[str], list[str]]:
    """(禁语 lines, other lines) the model learns from."""
    data = yaml.safe_load(devset.read_text(encoding="utf-8"))
    positives = [item["text"] for s in POSITIVE for item in data[s] if not blind(s, item)] + lines_of(forbidden)
    negatives = [item["text"] for s in NEGATIVE for item in data[s] if not blind(s, item)] + lines_of(not_forbidden)
    for path in sorted(dev_labels.glob("*.json")) if dev_labels else ():
        label = json.loads(path.read_text(encoding="utf-8"))
        if "forbidden_phrase" not in label["violations"]:
            negatives += [turn["text"] for turn in label["turns"] if turn["role"] == "agent"]
    return positives, negatives


def measure(devset: Path, model: Path) -> None:
    """The blind rounds, caught or flagged by the default rulebook reading with `model`: by its
    listed phrases, and with the model too."""
    from qcpipe.asr.types import Role, Segment, SpeechRegion
    from qcpipe.scoring import DEFAULT_RULEBOOK, CallInput, parse_rulebook, score_call

    rules = yaml.safe_load(DEFAULT_RULEBOOK.read_text(encoding="utf-8"))
    for check in rules["checks"]:
        if check["id"] == "forbidden_phrase":
            check["meaning"]["model"] = str(model.resolve())
    with_model = parse_rulebook(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False))
    data = yaml.safe_load(devset.read_text(encoding="utf-8"))

    def findings(text: str) -> list:
        segment = Segment(channel=0, role=Role.AGENT, start=0.0, end=5.0, text=text, confidence=1.0)
        call = CallInput(call_id="M0001", segments=(segment,),
                         speech=(SpeechRegion(0, Role.AGENT, 0.0, 5.0, -20.0),), duration_s=5.0)
        return [f for f in score_call(call, with_model).findings if f.rule_id == "forbidden_phrase"]

    for section in ("heldout_paraphrases", "heldout_polite"):
        rounds = sorted({item.get("round", 0) for item in data[section] if blind(section, item)})
        for number in rounds:
            lines = [item["text"] for item in data[section] if item.get("round", 0) == number]
            found = [findings(text) for text in lines]
            listed = sum(1 for f in found if any(x.match_kind != "meaning" for x in f))
            either = sum(1 for f in found if f)
            print(f"{section} round {number}: {len(lines)} lines; listed phrases {listed}, "
                  f"with the meaning model {either}")


def complaint_check(model: Path | None):
    """The default rulebook's complaint.apology check, its trigger read by `model` (None: the list alone)."""
    from qcpipe.scoring import DEFAULT_RULEBOOK, parse_rulebook

    rules = yaml.safe_load(DEFAULT_RULEBOOK.read_text(encoding="utf-8"))
    for trigger in (check["trigger"] for check in rules["checks"] if "trigger" in check):
        if model is None:
            trigger.pop("meaning", None)
        else:
            trigger["meaning"]["model"] = str(model.resolve())
    return parse_rulebook(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False)).rule("complaint.apology").matcher


def complaint_lines(complaints: list[Path], not_complaints: list[Path], wordings: Path,
                    dev_labels: Path | None) -> tuple[list[str], list[str]]:
    """(complaints, other customer lines) the complaint model learns from."""
    rounds = yaml.safe_load(wordings.read_text(encoding="utf-8"))["rounds"]
    tuned = [r["complaint_triggers"] for r in rounds if r["round"] < WORDINGS_BLIND_FROM_ROUND]
    positives = lines_of(complaints) + [line for section in tuned for line in section["meets"]]
    negatives = lines_of(not_complaints) + [line for section in tuned for line in section["fails"]]
    trigger = complaint_check(None).trigger  # the shipped model may not be there yet
    for path in sorted(dev_labels.glob("*.json")) if dev_labels else ():
        said = [turn["text"] for turn in json.loads(path.read_text(encoding="utf-8"))["turns"]
                if turn["role"] == "customer"]
        if not any(trigger.matches(trigger.heard([(0, text)])) for text in said):
            negatives += said
    return positives, negatives


def measure_complaints(wordings: Path, model: Path) -> None:
    """The blind rounds' customer lines: complaints caught and ordinary lines taken for one, by the
    default rulebook's trigger list alone and with `model` reading too (at the rulebook's threshold)."""
    matcher = complaint_check(model)

    def heard_as(text: str) -> tuple[bool, bool]:
        """(a trigger phrase is in it, the model raises a sentence of it)"""
        heard = matcher.trigger.heard([(0, text)])
        return bool(matcher.trigger.matches(heard)), any(r.raised for r in matcher.readings(heard))

    for number, section in ((r["round"], r["complaint_triggers"]) for r in
                            yaml.safe_load(wordings.read_text(encoding="utf-8"))["rounds"]
                            if r["round"] >= WORDINGS_BLIND_FROM_ROUND):
        for kind, lines in (("complaints", section["meets"]), ("ordinary lines", section["fails"])):
            found = [heard_as(text) for text in lines]
            print(f"round {number}, {len(lines)} {kind}: the trigger list {sum(a for a, _ in found)}, "
                  f"with the model {sum(a or b for a, b in found)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["forbidden-meaning", "complaint-meaning"], default="forbidden-meaning",
                        help="Which model to build (default: forbidden-meaning).")
    parser.add_argument("--out", type=Path, default=None,
                        help="Where to write it (default: qcpipe/configs/rules/<model>.json).")
    parser.add_argument("--devset", type=Path, default=REPO / "tests" / "scoring" / "fixtures" / "forbidden_devset.yaml")
    fixtures = REPO / "tests" / "scoring" / "fixtures"
    parser.add_argument("--forbidden", type=Path, nargs="*", default=[
        fixtures / "written_forbidden_lines.txt", fixtures / "written_forbidden_lines_industries.txt"])
    parser.add_argument("--not-forbidden", type=Path, nargs="*", default=[
        fixtures / "ordinary_agent_lines.txt", fixtures / "written_polite_lines.txt",
        fixtures / "written_polite_lines_industries.txt"])
    parser.add_argument("--complaints", type=Path, nargs="*", default=[fixtures / "written_complaint_lines.txt"])
    parser.add_argument("--not-complaints", type=Path, nargs="*", default=[fixtures / "written_customer_lines.txt"])
    parser.add_argument("--wordings", type=Path, default=fixtures / "wordings_devset.yaml")
    parser.add_argument("--dev-labels", type=Path, default=None,
                        help="Labelled calls whose clean agent turns (customer turns, for the complaint model) "
                             "are learnt as ordinary speech "
                             "(default: ../shared/corpus/dev/labels beside the checkout, where there is one).")
    parser.add_argument("--measure", action="store_true", help="After training, print the blind rounds' figures.")
    args = parser.parse_args()
    beside = REPO.parent / "shared" / "corpus" / "dev" / "labels"
    args.dev_labels = args.dev_labels or (beside if beside.exists() else None)
    args.out = args.out or REPO / "qcpipe" / "configs" / "rules" / f"{args.model}.json"
    complaint = args.model == "complaint-meaning"
    sources = ([args.wordings, *args.complaints, *args.not_complaints] if complaint
               else [args.devset, *args.forbidden, *args.not_forbidden])
    for path in (*sources, *([args.dev_labels] if args.dev_labels else [])):
        if not path.exists():
            parser.error(f"{path}: not found")
    if complaint:
        positives, negatives = complaint_lines(args.complaints, args.not_complaints, args.wordings, args.dev_labels)
    else:
        positives, negatives = training_lines(args.devset, args.forbidden, args.not_forbidden, args.dev_labels)
    model = train_meaning_model(positives, negatives, name=args.model)
    args.out.write_text(model.to_json() + "\n", encoding="utf-8")
    kinds = ("complaints", "other customer lines") if complaint else ("禁语", "other lines")
    print(f"{args.out}: {len(model.weights)} weights from {len(positives)} {kinds[0]} and {len(negatives)} {kinds[1]}")
    if args.measure:
        measure_complaints(args.wordings, args.out) if complaint else measure(args.devset, args.out)


if __name__ == "__main__":
    main()
