"""Each party is charged only for its own words: crosstalk between the channels is removed
before anything is heard (real Whisper, real dev-corpus audio, leaks built as line echo)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from qcpipe.asr import Transcriber, load_audio
from qcpipe.config import default_models_dir
from qcpipe.scoring import CallInput, score_call
from tests.helpers.degrade import degrade
from tests.helpers.paths import DEV_CORPUS

pytestmark = pytest.mark.asr

RUDE_CALL = "D110005"  # the agent says 这不关我的事，我不清楚，您打别的电话吧 (服务禁语, −20 each)
RUDE_WORDS = ["这不关我的事", "我不知道", "您打别的电话吧"]  # 我不清楚 is of the 我不知道 family


def leaked_call(tmp_path: Path, call_id: str, variant: str, swap: bool = False) -> Path:
    """The call with `variant`'s crosstalk, written as a WAV; `swap` first swaps the channels
    (the agent's words then come from the customer's channel)."""
    source = next((DEV_CORPUS / "audio").glob(f"{call_id}.*"))
    samples, rate = soundfile.read(str(source), dtype="float32", always_2d=True)
    samples = samples.T[::-1] if swap else samples.T
    degraded = degrade(np.ascontiguousarray(samples), rate, variant, call_id, DEV_CORPUS)
    target = tmp_path / f"{call_id}-{variant}{'-swapped' if swap else ''}.wav"
    soundfile.write(str(target), np.clip(degraded, -1, 1).T, rate, subtype="PCM_16")
    return target


def forbidden(transcriber: Transcriber, path: Path, rulebook) -> list:
    transcript = transcriber.transcribe(load_audio(path))
    result = score_call(CallInput.from_transcript(path.stem, transcript, 20.0), rulebook)
    return [f for f in result.findings if f.rule_id == "forbidden_phrase"]


def test_a_customers_forbidden_words_leaked_into_the_agent_channel_cost_nothing(transcriber, rulebook, tmp_path):
    # The rude line is the customer's now, and it leaks into the agent's channel 10 dB down.
    path = leaked_call(tmp_path, RUDE_CALL, "crosstalk-c2a-10", swap=True)
    assert forbidden(transcriber, path, rulebook) == []
    # Removing the leak alone is enough (the level gate is a second line).
    leak_removed_only = Transcriber(replace(transcriber.options, background_below_db=0), default_models_dir())
    assert forbidden(leak_removed_only, path, rulebook) == []
    # Heard as it is (no leak removed, no level gate, which also keeps a quieter voice out of the
    # agent's speech), the agent would be charged for the customer's words.
    unprotected = Transcriber(replace(transcriber.options, remove_crosstalk=False, background_below_db=0),
                              default_models_dir())
    assert [f.phrase for f in forbidden(unprotected, path, rulebook)] == RUDE_WORDS


@pytest.mark.parametrize("variant", ["crosstalk-c2a-10", "crosstalk-a2c-10"])
def test_the_agents_own_forbidden_words_still_cost_20(transcriber, rulebook, tmp_path, variant):
    findings = forbidden(transcriber, leaked_call(tmp_path, RUDE_CALL, variant), rulebook)
    assert [(f.phrase, f.deduction, f.speaker.value) for f in findings] == [(w, 20.0, "agent") for w in RUDE_WORDS]
