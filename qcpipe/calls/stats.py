"""A stored call's figures (talk time, silence, overlaps, agent speech rate): one computation,
shown by `qcpipe transcript`, the web call page and the exports alike.

The figures are measured by `qcpipe.scoring.timeline`, the code the silence, interruption and
speech-rate checks use, so the call page and a finding never disagree about a silence.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from qcpipe.scoring.records import call_input
from qcpipe.scoring.timeline import CallStats
from qcpipe.store.models import Call, CallStatus


def vad_padding_of(call: Call) -> float:
    """How much the call's voice-activity padding shortens a silence (both pads, seconds), from
    the ASR settings stored with it; 0 when unknown."""
    pad_ms = (call.asr_options or {}).get("vad_pad_ms") or 0
    return 2 * float(pad_ms) / 1000


def call_stats(call: Call) -> CallStats | None:
    """The figures of a transcribed call; None for a call that failed or has no speech timeline."""
    if call.status != CallStatus.DONE or not call.speech:
        return None
    heard = call_input(call)
    return CallStats.of(heard.segments, heard.speech, vad_padding_of(call))


STAT_COLUMNS = tuple(f"call_{f.name}" for f in fields(CallStats))
"""The export columns of a call's figures, as `stat_columns` names them."""


def stat_columns(stats: CallStats | None) -> dict[str, Any]:
    """A call's figures as flat export columns (`call_agent_talk_s` …), all None when unknown."""
    return {f"call_{f.name}": getattr(stats, f.name) if stats else None for f in fields(CallStats)}
