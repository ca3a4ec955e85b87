"""`qcpipe run --executor ray` on a cluster with a GPU: each worker takes one GPU
(`num_gpus=1`), or its share of one (`[asr] ray_workers_per_gpu`: processes sharing the card),
and decodes there in float16 batches (a worker without one could not load its model, and the
run would stop); every call is stored once, with what the local GPU path finds.

Skipped where no CUDA device is visible (CI has none); on a GPU machine: `pytest -m gpu`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import ctranslate2
import pytest
from rapidfuzz.distance import Levenshtein
from sqlalchemy import func, select

from qcpipe.config import Settings, default_models_dir
from qcpipe.ingest import sources_for
from qcpipe.pipeline import asr_options, run_batch, transcribe_sources
from qcpipe.pipeline.ray_executor import RayExecutor
from qcpipe.scoring import Rulebook
from qcpipe.store import Call, CallStatus, open_database
from tests.helpers.audio import copy_calls
from tests.helpers.heard import heard, shortest_dev_calls
from tests.helpers.ray_runtime import import_ray

pytestmark = [
    pytest.mark.ray,
    pytest.mark.asr,
    pytest.mark.gpu,
    pytest.mark.skipif(ctranslate2.get_cuda_device_count() == 0, reason="no CUDA device is visible here"),
]

CALLS = shortest_dev_calls(4)


def _no_local_model() -> None:
    raise AssertionError("with a Ray executor, the run must not load a model of its own")


@pytest.mark.parametrize("workers_per_gpu", [1, 2])
def test_a_ray_worker_takes_the_gpu_and_hears_what_the_local_gpu_path_hears(
        rulebook: Rulebook, tmp_path: Path, workers_per_gpu: int, caplog: pytest.LogCaptureFixture) -> None:
    ray = import_ray()
    from ray.cluster_utils import Cluster

    folder = tmp_path / "day"
    manifest = copy_calls(CALLS, folder)
    options = asr_options(Settings(device="cuda", executor="ray"))
    assert (options.device, options.compute_type, options.batched) == ("cuda", "float16", True)
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 0, "object_store_memory": 80 * 2**20, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=2, num_gpus=1, object_store_memory=80 * 2**20)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        on_ray = open_database(f"sqlite:///{tmp_path / 'ray.db'}")
        caplog.set_level(logging.INFO, logger="qcpipe.pipeline.ray_executor")
        executor = RayExecutor(options, default_models_dir(), address=cluster.address,
                               workers_per_gpu=workers_per_gpu, start_timeout_s=120)
        summary = run_batch(sources_for(folder, manifest), on_ray, _no_local_model,
                            asr_fingerprint=options.fingerprint(), rulebook=rulebook, executor=executor)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert (summary.done, summary.failed) == (len(CALLS), 0), summary.failures
    assert f"{workers_per_gpu} Ray transcription worker(s)" in caplog.text  # all on the one GPU
    # Read from the workers as the run closed them: every call's lanes went through their pools.
    assert executor.batch_fill is not None, "the workers' GPU batches were not counted"
    batches, windows = executor.batch_fill
    assert windows >= batches >= 1 and windows >= len(CALLS)
    assert "GPU batches" in caplog.text
    with on_ray.session() as session:
        rows = session.execute(select(Call.call_id, func.count(), func.min(Call.status)).group_by(Call.call_id)).all()
    assert sorted(rows) == [(call_id, 1, CallStatus.DONE) for call_id in sorted(CALLS)]

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'local.db'}", device="cuda")
    local = open_database(settings.db_url)
    transcribe_sources(settings, sources_for(folder, manifest), local, rulebook=rulebook)
    expected, got = heard(local), heard(on_ray)
    local.dispose()
    on_ray.dispose()
    for call_id in CALLS:
        assert got[call_id][1] == expected[call_id][1], f"{call_id}: other findings on Ray"
        # Not word for word: a window's float16 batch is made of whichever calls were waiting
        # with it, and another batch shape may round a close word the other way.
        similarity = Levenshtein.normalized_similarity("".join(got[call_id][0]), "".join(expected[call_id][0]))
        assert similarity > 0.95, f"{call_id}: the Ray worker heard other words ({similarity:.2f})"
