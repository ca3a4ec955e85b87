"""The GPU path: on a CUDA device `qcpipe run` decodes in batches, in float16. It must hear the
dev calls as well as the CPU path does and find what the labels say.

Skipped where no CUDA device is visible (CI has none); on a GPU machine: `pytest -m gpu`.
"""

from __future__ import annotations

from pathlib import Path

import ctranslate2
import pytest

from qcpipe.asr import Transcriber
from qcpipe.config import Settings, default_models_dir
from qcpipe.ingest import sources_for
from qcpipe.pipeline import asr_options, transcribe_sources
from qcpipe.scoring import Rulebook, evaluate
from qcpipe.store import open_database
from qcpipe.store import repository as repo
from tests.helpers.audio import copy_calls
from tests.helpers.heard import character_error_rate, shortest_dev_calls
from tests.helpers.paths import DEV_LABELS
from tests.helpers.transcribers import shortest_calls_at_once

pytestmark = [
    pytest.mark.asr,
    pytest.mark.gpu,
    pytest.mark.skipif(ctranslate2.get_cuda_device_count() == 0, reason="no CUDA device is visible here"),
]

CALLS = shortest_dev_calls(8)
CER_MARGIN = 0.02  # on eight short calls one misheard word is about half a point


def _run(device: str, folder: Path, manifest: Path, tmp_path: Path, rulebook: Rulebook) -> tuple[float, float]:
    """`qcpipe run` of the calls on `device`: their CER and the micro-F1 of their findings."""
    settings = Settings(db_url=f"sqlite:///{tmp_path / device}.db", device=device)
    database = open_database(settings.db_url)
    try:
        summary = transcribe_sources(settings, sources_for(folder, manifest), database, rulebook=rulebook)
        assert (summary.done, summary.failed) == (len(CALLS), 0), summary.failures
        with database.session() as session:
            micro_f1 = evaluate(repo.violations_by_call(session), DEV_LABELS).micro_f1
        return character_error_rate(database, CALLS), micro_f1
    finally:
        database.dispose()


def test_on_a_gpu_qcpipe_run_decodes_in_float16_batches() -> None:
    options = asr_options(Settings(device="auto"))
    assert (options.device, options.compute_type, options.batched) == ("cuda", "float16", True)


def test_the_gpu_path_hears_the_calls_as_well_as_the_cpu_path_and_finds_what_the_labels_say(
    rulebook: Rulebook, tmp_path: Path,
) -> None:
    folder = tmp_path / "day"
    manifest = copy_calls(CALLS, folder)
    cpu_cer, cpu_f1 = _run("cpu", folder, manifest, tmp_path, rulebook)
    gpu_cer, gpu_f1 = _run("cuda", folder, manifest, tmp_path, rulebook)
    assert gpu_f1 == cpu_f1 == 1.0
    assert gpu_cer <= cpu_cer + CER_MARGIN, f"GPU CER {gpu_cer:.2%} against the CPU path's {cpu_cer:.2%}"


def test_on_the_card_the_lanes_of_calls_in_hand_share_batches() -> None:
    # One decoding thread: while it decodes, the other calls' windows wait, and must join.
    transcriber = Transcriber(asr_options(Settings(device="cuda", gpu_decoders=1)), default_models_dir(), workers=8)
    transcripts = shortest_calls_at_once(transcriber, 8)
    assert all(transcript.segments for transcript in transcripts)
    batches, windows = transcriber.batch_fill
    assert windows >= 2 * len(transcripts)
    assert batches <= windows / 1.5, f"{windows} windows in {batches} batches: the calls' lanes did not share them"
