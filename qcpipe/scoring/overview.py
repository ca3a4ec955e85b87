"""A rulebook's checks as a QA lead reads them: id, title, kind, the phrases (the first few and
how many), where it looks, what it costs.

    for check in check_overview(yaml_text): print(check.id, check.phrases_shown, check.window)

Read from the YAML the rulebook was validated from (call it on valid rulebooks only): the
phrases as written, `(a|b)` patterns unexpanded, a phrase set by its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qcpipe.scoring.matchers.reader import MeaningSpec
from qcpipe.scoring.spec import parse_yaml

PHRASES_SHOWN = 4
# The fields of the kinds (matchers/) that hold a phrase list, in the order they are shown.
_PHRASE_FIELDS = ("phrases", "closing", "notices", "farewells", "backchannels")


@dataclass(frozen=True)
class CheckOverview:
    """One check. phrases: the first few wordings as written; phrase_count: how many in all;
    phrase_set: the named set the check uses, if it names one; window: where it looks, in words;
    meaning: the meaning model that also reads (the check's, or its trigger's) and its threshold."""

    id: str
    title: str
    kind: str
    phrases: tuple[str, ...]
    phrase_count: int
    phrase_set: str | None
    trigger: str | None
    window: str
    deduction: float
    veto: bool
    severity: str
    condition: str | None
    line: int
    meaning: str | None = None

    @property
    def more_phrases(self) -> int:
        return self.phrase_count - len(self.phrases)


def check_overview(yaml_text: str) -> list[CheckOverview]:
    """The checks of a valid rulebook's YAML, in rulebook order."""
    top = parse_yaml(yaml_text)
    sets = top.get("phrase_sets") or {}
    checks = top.get("checks") or []
    lines = getattr(checks, "item_lines", [0] * len(checks))
    return [_overview(check, sets, line) for check, line in zip(checks, lines)]


def _overview(check: dict[str, Any], sets: dict[str, Any], line: int) -> CheckOverview:
    phrase_set = None
    wordings: list[str] = []
    lists = [check[name] for name in _PHRASE_FIELDS if name in check]
    require = check.get("require")  # required_phrases: one list, or one of each named list
    if isinstance(require, dict):
        lists = list(require.values()) + lists
    elif require is not None:
        lists = [require] + lists
    for value in lists:
        listed, named = _phrase_list(value, sets)
        wordings += [wording for wording in listed if wording not in wordings]
        phrase_set = phrase_set or named
    trigger = check.get("trigger")
    trigger_text = None
    if isinstance(trigger, dict):
        listed, named = _phrase_list(trigger.get("phrases"), sets)
        trigger_text = f"{trigger.get('role', '')}: {named or '、'.join(listed[:PHRASES_SHOWN])}"
    reading = check.get("meaning") or (trigger.get("meaning") if isinstance(trigger, dict) else None)
    meaning = None
    if isinstance(reading, dict):
        threshold = reading.get("threshold", MeaningSpec.model_fields["threshold"].default)
        meaning = f"{reading.get('model')} ≥ {float(threshold):.2f}"
    condition = check.get("condition")
    return CheckOverview(
        id=str(check.get("id")), title=str(check.get("title")), kind=str(check.get("kind")),
        phrases=tuple(wordings[:PHRASES_SHOWN]), phrase_count=len(wordings), phrase_set=phrase_set,
        trigger=trigger_text, window=_window(check), deduction=float(check.get("deduction", 0)),
        veto=bool(check.get("veto", False)), severity=str(check.get("severity", "")),
        condition=str(condition) if condition else None, line=line, meaning=meaning,
    )


def _phrase_list(value: Any, sets: dict[str, Any]) -> tuple[list[str], str | None]:
    """The wordings of a phrase list (a set's, when it names one) and the set's name."""
    if isinstance(value, str):
        listed, _ = _phrase_list(sets.get(value) or [], {})
        return listed, value
    wordings = []
    for item in value or []:
        if isinstance(item, str):
            wordings.append(item)
        elif isinstance(item, dict) and "phrase" in item:
            wordings.append(str(item["phrase"]))
    return wordings, None


def _window(check: dict[str, Any]) -> str:
    window = check.get("window")
    if isinstance(window, dict):
        anchor = {"start": "开头 from the start", "end": "结尾 before the end"}.get(window.get("from"), window.get("from"))
        turns = f" · {window['turns']} 轮 turns" if window.get("turns") else ""
        return f"{anchor} {window.get('seconds')} s{turns}"
    if "within_s" in check:
        after = "触发后 after the trigger" if "trigger" in check else "结尾 at the end"
        return f"{after} {check['within_s']} s"
    if "notice_within_s" in check:
        return f"静音前 {check['notice_within_s']} s 内提示 · notice within"
    return "整通 whole call"
