"""The session's one loaded model under other recognition settings, and calls transcribed at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from qcpipe.asr import Transcript, open_audio
from qcpipe.asr.transcriber import Transcriber
from tests.helpers.heard import shortest_dev_calls
from tests.helpers.paths import DEV_CORPUS


def reading_script(transcriber: Transcriber, phrases: tuple[str, ...]) -> Transcriber:
    """The same loaded model (a shallow copy: the weights are shared), reading `phrases` as its
    script (`AsrOptions.script_phrases`)."""
    other = object.__new__(Transcriber)
    other.__dict__.update(transcriber.__dict__)
    other.options = replace(transcriber.options, script_phrases=phrases)
    return other


def shortest_calls_at_once(transcriber: Transcriber, count: int) -> list[Transcript]:
    """The dev corpus's `count` shortest calls, each transcribed in a thread of its own at the same
    time, as a run's workers do."""
    paths = [next((DEV_CORPUS / "audio").glob(f"{call_id}.*")) for call_id in shortest_dev_calls(count)]
    with ThreadPoolExecutor(len(paths)) as threads:
        return list(threads.map(lambda path: transcriber.transcribe(open_audio(path)), paths))
