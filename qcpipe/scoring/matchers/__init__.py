"""The rule kinds, one small class each, registered by name in `KINDS`."""

from qcpipe.scoring.matchers import forbidden, required, silence, triggered  # noqa: F401 - registers
from qcpipe.scoring.matchers import agent_hangup, dead_air, interruption, raised_voice, speech_rate  # noqa: F401 - registers
from qcpipe.scoring.matchers.base import KINDS, Hit, NotApplicableError, NotRelevant, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView

__all__ = ["KINDS", "CallView", "Hit", "NotApplicableError", "NotRelevant", "ParseContext", "RuleKind", "register"]
