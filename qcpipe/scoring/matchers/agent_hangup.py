"""Kind `agent_hangup`: the call cut off on the customer (异常挂机)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Hit, NotApplicableError, NotRelevant, ParseContext, RuleKind, register
from qcpipe.scoring.matchers.view import CallView, measured_hit
from qcpipe.scoring.matching import PhraseMatcher
from qcpipe.scoring.spec import Bounds, CheckSpec, PhraseList
from qcpipe.scoring.timeline import merged


class AgentHangupSpec(CheckSpec):
    """`kind: agent_hangup`: the recording ends on the customer's words, without a proper close."""

    kind: Literal["agent_hangup"]
    within_s: Annotated[float, Bounds("window", 0.1)] = Field(
        3.0, description="The recording ending this many seconds or less after the customer's last words counts "
                         "as ending on them.")
    cut_off_s: Annotated[float, Bounds("window", 0.0, 5.0)] = Field(
        0.5, description="The customer's voice running to within this many seconds of the recording's end means "
                         "they were still talking when the line went (VAD padding is ~0.4 s).")
    closing: PhraseList = Field(
        description="What the agent says to close a call (or a phrase set name): one of them in the agent's "
                    "last turn is a proper close.")
    farewells: PhraseList | None = Field(
        None, description="What a customer says to end a call themselves (再见, 拜拜, or a phrase set name): a "
                          "call ending on one of them ended normally.")


@register("agent_hangup")
class AgentHangup(RuleKind):
    """The call ends on the customer: their speech is the call's last and the recording ends
    within `within_s` of it, their last utterance is not a farewell, and either their voice runs
    to the end of the recording (they were cut off mid-sentence) or the agent's last turn holds
    no `closing` phrase.

    Why: hanging up on a customer (异常挂机) is a serious QA item (Alibaba SCA lists it with
    call-level checks). The recording cannot say who pressed the button, so the check reads
    what can be heard: a call that ends while the customer is still talking, or right after
    their words without the agent having closed, was ended on them. A call the agent closed
    (感谢您的来电，再见) or the customer closed (好的，再见) is not. The recording's end is
    `duration_s` (from the audio, not from the last word). Calls where the agent speaks last
    (words, or voice no word was recognised in) are not concerned (not relevant); a call
    without a known length is not applicable. The
    finding quotes the agent's last turn and notes the customer's last words.

    Fields: `AgentHangupSpec`.
    """

    spec = AgentHangupSpec

    def __init__(self, within_s: float, cut_off_s: float, closing: PhraseMatcher,
                 farewells: PhraseMatcher | None) -> None:
        self.within_s = within_s
        self.cut_off_s = cut_off_s
        self.closing = closing
        self.farewells = farewells

    @classmethod
    def from_spec(cls, spec: AgentHangupSpec, context: ParseContext) -> AgentHangup:
        closing = context.matcher(context.phrases(spec.closing), spec.matching)
        farewells = context.matcher(context.phrases(spec.farewells), spec.matching) if spec.farewells else None
        return cls(spec.within_s, spec.cut_off_s, closing, farewells)

    def phrase_lists(self) -> dict[str, tuple[Role, PhraseMatcher]]:
        lists = {"closing": (Role.AGENT, self.closing)}
        if self.farewells is not None:
            lists["farewells"] = (Role.CUSTOMER, self.farewells)
        return lists

    def check(self, call: CallView) -> list[Hit]:
        end_of_call = call.call.duration_s
        if end_of_call is None:
            raise NotApplicableError("the recording's length is unknown")
        customer = call.speech_bounds(Role.CUSTOMER)
        if customer is None:
            raise NotRelevant("the customer never spoke")
        # The agent's last speech: words, unheard speech, or voice activity no word was recognised
        # in (a closing Whisper missed is still the agent speaking last; less the VAD padding).
        agent = call.speech_bounds(Role.AGENT)
        voice = [r.end - self.cut_off_s for r in call.call.speech if r.role is Role.AGENT]
        agent_last = max([*([agent[1]] if agent else []), *voice], default=None)
        if agent_last is not None and agent_last >= customer[1]:
            raise NotRelevant("the agent spoke last")
        last_words = customer[1]
        if end_of_call - last_words > self.within_s:
            raise NotRelevant("the call went on after the customer's last words")
        last_turn = call.turns(Role.CUSTOMER)[-1] if call.turns(Role.CUSTOMER) else []
        if last_turn and self.farewells is not None and self.farewells.matches(call.heard(last_turn)):
            return []
        # Still talking: the stretch of voice holding their last words runs to the end (a later
        # stretch with no words, line noise, does not count).
        stretches = merged((r.start, r.end) for r in call.call.speech if r.role is Role.CUSTOMER)
        voice_end = max((end for start, end in stretches if start <= last_words <= end), default=last_words)
        cut_off = end_of_call - voice_end <= self.cut_off_s
        agent_turns = call.turns(Role.AGENT)
        closed = bool(agent_turns) and bool(self.closing.matches(call.heard(agent_turns[-1])))
        if not cut_off and closed:
            return []
        how = "while the customer was still talking" if cut_off else \
            f"{end_of_call - last_words:.1f} s after the customer's last words"
        why = "the agent's last turn has no closing" if not closed else "after the agent's closing"
        said = " ".join(call.segments[i].text for i in last_turn)
        note = f"the recording ends at {end_of_call:.1f} s {how}; {why}" + (f"; the customer: “{said}”" if said else "")
        # The agent is charged: the quote is what the agent said last, the span the call's end.
        quote = " ".join(call.segments[i].text for i in agent_turns[-1]) if agent_turns else "[no agent speech]"
        start = call.segments[last_turn[0]].start if last_turn else customer[0]
        return [measured_hit(call, Role.AGENT, start, end_of_call, note, quote=quote)]
