"""Scoring quality against labelled calls: per-check precision/recall/F1, micro-F1, clean-call flags.

Counts are over (call, check) pairs: a check a call violates is a positive; a prediction is
a check with at least one finding. Label files are the dev-corpus format
(`labels/<call_id>.json` with `call_id` and `violations`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from qcpipe.errors import QcpipeError


class LabelError(QcpipeError):
    """A label file is unreadable or malformed; the message names the file."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


@dataclass(frozen=True)
class CheckStats:
    """One check's counts and rates; a rate is None where undefined (nothing to divide by)."""

    check_id: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def support(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positives, self.support)

    @property
    def f1(self) -> float | None:
        return _ratio(2 * self.true_positives, 2 * self.true_positives + self.false_positives + self.false_negatives)


@dataclass(frozen=True)
class EvalReport:
    """The evaluation of predicted violations against labels, over the calls present in both.

    clean_flagged_share: of the clean calls (no labelled violation), the share with any finding.
    only_predicted / only_labelled: call ids left out because one side lacks them.
    """

    checks: tuple[CheckStats, ...]
    calls_compared: int
    clean_calls: int
    clean_flagged: int
    only_predicted: tuple[str, ...]
    only_labelled: tuple[str, ...]

    @property
    def micro(self) -> CheckStats:
        return CheckStats("micro", sum(c.true_positives for c in self.checks),
                          sum(c.false_positives for c in self.checks), sum(c.false_negatives for c in self.checks))

    @property
    def micro_f1(self) -> float | None:
        return self.micro.f1

    @property
    def clean_flagged_share(self) -> float | None:
        return _ratio(self.clean_flagged, self.clean_calls)

    def check(self, check_id: str) -> CheckStats:
        for stats in self.checks:
            if stats.check_id == check_id:
                return stats
        raise KeyError(check_id)

    def format(self) -> str:
        """A plain-text table, one row per check, then micro figures and clean-call flags."""
        width = max([len(c.check_id) for c in self.checks] + [8])
        lines = [f"{'check':<{width}}  {'P':>5}  {'R':>5}  {'F1':>5}  {'TP':>4} {'FP':>4} {'FN':>4}"]
        for stats in (*self.checks, self.micro):
            lines.append(f"{stats.check_id:<{width}}  {_fmt(stats.precision)}  {_fmt(stats.recall)}  "
                         f"{_fmt(stats.f1)}  {stats.true_positives:>4} {stats.false_positives:>4} "
                         f"{stats.false_negatives:>4}")
        lines.append(f"calls compared: {self.calls_compared}; clean calls with any finding: "
                     f"{self.clean_flagged}/{self.clean_calls} ({_fmt(self.clean_flagged_share, pct=True)})")
        if self.only_predicted or self.only_labelled:
            lines.append(f"left out: {len(self.only_predicted)} predicted without label, "
                         f"{len(self.only_labelled)} labelled without prediction")
        return "\n".join(lines)


def read_labels(labels_dir: str | Path) -> dict[str, frozenset[str]]:
    """call_id → labelled violations, from every `*.json` in `labels_dir`."""
    labels_dir = Path(labels_dir)
    if not labels_dir.is_dir():
        raise LabelError(labels_dir, "labels directory not found")
    labels: dict[str, frozenset[str]] = {}
    for path in sorted(labels_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LabelError(path, f"unreadable label file: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("call_id"), str):
            raise LabelError(path, "expected a JSON object with a string 'call_id'")
        violations = data.get("violations")
        if not isinstance(violations, list) or not all(isinstance(v, str) for v in violations):
            raise LabelError(path, "'violations' must be a list of check ids")
        labels[data["call_id"]] = frozenset(violations)
    return labels


def evaluate(predicted: Mapping[str, Iterable[str]], labels_dir: str | Path,
             check_ids: Iterable[str] = ()) -> EvalReport:
    """Compare predicted violations (call_id → check ids) with the labels in `labels_dir`.

    Checks reported: `check_ids` (e.g. the rulebook's) plus any that appear in labels or
    predictions. Only calls present on both sides are compared.
    """
    labels = read_labels(labels_dir)
    predictions = {call_id: frozenset(ids) for call_id, ids in predicted.items()}
    common = sorted(set(labels) & set(predictions))
    all_ids = list(dict.fromkeys([*check_ids, *sorted({c for i in common for c in labels[i] | predictions[i]})]))
    checks = tuple(
        CheckStats(check_id,
                   sum(1 for i in common if check_id in labels[i] and check_id in predictions[i]),
                   sum(1 for i in common if check_id not in labels[i] and check_id in predictions[i]),
                   sum(1 for i in common if check_id in labels[i] and check_id not in predictions[i]))
        for check_id in all_ids)
    clean = [i for i in common if not labels[i]]
    return EvalReport(checks=checks, calls_compared=len(common), clean_calls=len(clean),
                      clean_flagged=sum(1 for i in clean if predictions[i]),
                      only_predicted=tuple(sorted(set(predictions) - set(labels))),
                      only_labelled=tuple(sorted(set(labels) - set(predictions))))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "    —"
    return f"{value:6.1%}" if pct else f"{value:5.3f}"
