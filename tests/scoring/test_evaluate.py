"""evaluate(): per-check precision/recall/F1, micro-F1, clean calls flagged, label errors."""

from __future__ import annotations

import json

import pytest

from qcpipe.scoring import LabelError, evaluate
from tests.helpers.paths import DEV_LABELS


def write_labels(directory, labels: dict[str, list[str]]):
    directory.mkdir(exist_ok=True)
    for call_id, violations in labels.items():
        (directory / f"{call_id}.json").write_text(json.dumps({"call_id": call_id, "violations": violations}))
    return directory


def test_counts_rates_and_clean_calls(tmp_path):
    labels = write_labels(tmp_path / "labels", {
        "C1": ["greeting", "closing"], "C2": ["closing"], "C3": [], "C4": [], "C5": ["greeting"]})
    predicted = {"C1": {"greeting"}, "C2": {"closing", "greeting"}, "C3": set(), "C4": {"closing"},
                 "X9": {"greeting"}}
    report = evaluate(predicted, labels, check_ids=["greeting", "closing", "hold_notice"])
    greeting, closing, hold = report.checks
    assert (greeting.true_positives, greeting.false_positives, greeting.false_negatives) == (1, 1, 0)
    assert greeting.precision == 0.5 and greeting.recall == 1.0 and greeting.f1 == pytest.approx(2 / 3)
    assert (closing.true_positives, closing.false_positives, closing.false_negatives) == (1, 1, 1)
    assert hold.precision is None and hold.f1 is None and hold.support == 0
    assert report.micro.true_positives == 2 and report.micro_f1 == pytest.approx(4 / 7)
    assert report.calls_compared == 4 and report.only_predicted == ("X9",) and report.only_labelled == ("C5",)
    assert (report.clean_calls, report.clean_flagged, report.clean_flagged_share) == (2, 1, 0.5)
    table = report.format()
    assert "greeting" in table and "micro" in table and "calls compared: 4" in table and "50.0%" in table


def test_perfect_predictions(tmp_path):
    labels = write_labels(tmp_path / "labels", {"C1": ["greeting"], "C2": []})
    report = evaluate({"C1": ["greeting"], "C2": []}, labels)
    assert report.micro_f1 == 1.0 and report.clean_flagged_share == 0.0


@pytest.mark.parametrize("content, message", [
    ("{not json", "unreadable label file"),
    ('["a list"]', "call_id"),
    ('{"call_id": "C1", "violations": "greeting"}', "'violations' must be a list"),
])
def test_malformed_label_names_the_file(tmp_path, content, message):
    (tmp_path / "C1.json").write_text(content)
    with pytest.raises(LabelError, match=message) as caught:
        evaluate({"C1": set()}, tmp_path)
    assert "C1.json" in str(caught.value)


def test_missing_labels_directory(tmp_path):
    with pytest.raises(LabelError, match="not found"):
        evaluate({}, tmp_path / "nowhere")


@pytest.mark.skipif(not DEV_LABELS.is_dir(), reason="dev corpus not available")
def test_dev_corpus_reference_transcripts_score_at_goal(rulebook):
    """The rulebook on the dev corpus's reference transcripts (perfect ASR): at goal."""
    from qcpipe.asr.types import Role, Segment, SpeechRegion
    from qcpipe.scoring import CallInput, score_call

    predicted = {}
    for path in sorted(DEV_LABELS.glob("*.json")):
        label = json.loads(path.read_text(encoding="utf-8"))
        segments = tuple(Segment(0 if t["role"] == "agent" else 1, Role(t["role"]), t["start"], t["end"], t["text"], 1.0)
                         for t in label["turns"])
        speech = tuple(SpeechRegion(s.channel, s.role, s.start, s.end) for s in segments)
        call = CallInput(label["call_id"], segments, speech, label["queue_wait_s"], label["duration_s"])
        predicted[call.call_id] = score_call(call, rulebook).violated
    report = evaluate(predicted, DEV_LABELS, rulebook.rule_ids)
    assert report.micro_f1 >= 0.97
    assert all(c.f1 is None or c.f1 >= 0.9 for c in report.checks)
    assert report.clean_flagged_share <= 0.03
