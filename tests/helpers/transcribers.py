"""The session's one loaded model, under other recognition settings."""

from __future__ import annotations

from dataclasses import replace

from qcpipe.asr.transcriber import Transcriber


def reading_script(transcriber: Transcriber, phrases: tuple[str, ...]) -> Transcriber:
    """The same loaded model (a shallow copy: the weights are shared), reading `phrases` as its
    script (`AsrOptions.script_phrases`)."""
    other = object.__new__(Transcriber)
    other.__dict__.update(transcriber.__dict__)
    other.options = replace(transcriber.options, script_phrases=phrases)
    return other
