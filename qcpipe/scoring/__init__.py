"""Scoring: check every call against the rulebook and score it, with evidence for each deduction.

    rulebook = load_rulebook("configs/rules/default.yaml")
    result = score_call(CallInput(call_id, segments, speech, queue_wait_s=45), rulebook)
    report = evaluate({call_id: set(result.violated)}, labels_dir)
"""

from qcpipe.scoring.engine import score_call
from qcpipe.scoring.explain import Explanation, NearMiss, PhraseMatch, explain
from qcpipe.scoring.evaluate import CheckStats, EvalReport, LabelError, evaluate
from qcpipe.scoring.matching import MatchKind
from qcpipe.scoring.model import CallInput, CallScore, Finding, NotApplicable
from qcpipe.scoring.rulebook import DEFAULT_RULEBOOK, Rule, Rulebook, load_rulebook, parse_rulebook, rulebook_json_schema
from qcpipe.scoring.spec import RulebookError
from qcpipe.scoring.versions import ActiveRulebook, RulebookConflict, RulebookUnchanged, VersionInfo, VersionText, \
    active_rulebook, file_rulebook, get_version, list_versions, publish

__all__ = [
    "DEFAULT_RULEBOOK", "ActiveRulebook", "CallInput", "Explanation", "CallScore", "CheckStats", "EvalReport", "Finding", "LabelError",
    "MatchKind", "NearMiss", "NotApplicable", "PhraseMatch", "Rule", "Rulebook", "RulebookConflict", "RulebookError", "RulebookUnchanged", "VersionInfo", "VersionText",
    "active_rulebook", "evaluate", "explain", "file_rulebook", "get_version", "list_versions", "load_rulebook", "parse_rulebook", "publish",
    "rulebook_json_schema", "score_call",
]
